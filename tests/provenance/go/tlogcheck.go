// tlogcheck verifies the transparency log's checkpoints and proofs with Go's
// golang.org/x/mod/sumdb/note (signed notes) and golang.org/x/mod/sumdb/tlog (RFC 6962 trees).
//
// Input (stdin, JSON): {"vkey": verifier key, "checkpoints": [signed notes, oldest first],
// "entries": [{"index", "entry" (base64 bytes), "leaf_hash" (base64)}],
// "inclusions": [{"index", "hashes"}] against the newest checkpoint,
// "consistency": [{"from": index into checkpoints, "hashes"}] to the newest checkpoint}.
// Output (stdout, JSON): the same lists as booleans, and each checkpoint's size or error.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type input struct {
	Vkey        string   `json:"vkey"`
	Checkpoints []string `json:"checkpoints"`
	Entries     []struct {
		Index    int64     `json:"index"`
		Entry    []byte    `json:"entry"`
		LeafHash tlog.Hash `json:"leaf_hash"`
	} `json:"entries"`
	Inclusions []struct {
		Index  int64       `json:"index"`
		Hashes []tlog.Hash `json:"hashes"`
	} `json:"inclusions"`
	Consistency []struct {
		From   int         `json:"from"`
		Hashes []tlog.Hash `json:"hashes"`
	} `json:"consistency"`
}

type head struct {
	Size  int64     `json:"size"`
	Root  tlog.Hash `json:"-"`
	Error string    `json:"error,omitempty"`
	ok    bool
}

func openCheckpoint(text string, verifiers note.Verifiers) head {
	n, err := note.Open([]byte(text), verifiers)
	if err != nil {
		return head{Error: err.Error()}
	}
	lines := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	if len(lines) < 3 {
		return head{Error: "not a checkpoint"}
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		return head{Error: err.Error()}
	}
	root, err := tlog.ParseHash(lines[2])
	if err != nil {
		return head{Error: err.Error()}
	}
	return head{Size: size, Root: root, ok: true}
}

func main() {
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	verifier, err := note.NewVerifier(in.Vkey)
	if err != nil {
		fmt.Fprintln(os.Stderr, "verifier key:", err)
		os.Exit(2)
	}
	verifiers := note.VerifierList(verifier)
	heads := make([]head, len(in.Checkpoints))
	for i, text := range in.Checkpoints {
		heads[i] = openCheckpoint(text, verifiers)
	}
	out := map[string]any{"checkpoints": heads}
	var latest head
	if len(heads) > 0 {
		latest = heads[len(heads)-1]
	}
	entries := []bool{}
	for _, e := range in.Entries {
		entries = append(entries, tlog.RecordHash(e.Entry) == e.LeafHash)
	}
	out["entries"] = entries
	inclusions := []bool{}
	for i, p := range in.Inclusions {
		ok := latest.ok && i < len(in.Entries) &&
			tlog.CheckRecord(tlog.RecordProof(p.Hashes), latest.Size, latest.Root, p.Index,
				in.Entries[i].LeafHash) == nil
		inclusions = append(inclusions, ok)
	}
	out["inclusions"] = inclusions
	consistency := []bool{}
	for _, c := range in.Consistency {
		old := heads[c.From]
		ok := latest.ok && old.ok &&
			tlog.CheckTree(tlog.TreeProof(c.Hashes), latest.Size, latest.Root, old.Size, old.Root) == nil
		consistency = append(consistency, ok)
	}
	out["consistency"] = consistency
	json.NewEncoder(os.Stdout).Encode(out)
}
