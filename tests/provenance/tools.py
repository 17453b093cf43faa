"""Implementations that are not ours, run as the tests' second opinion: Digital Bazaar's Data
Integrity libraries and axe-core (Node, from ``make provenance-tools``), and Go's
golang.org/x/mod/sumdb note and tlog packages (Debian's golang-golang-x-mod-dev)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
NODE_DIR = ROOT / ".cache" / "node-provenance"
GO_SOURCES = Path("/usr/share/gocode")


def _install() -> None:
    subprocess.run(["make", "-s", "provenance-tools"], cwd=ROOT, check=False, timeout=900)


def node_dir() -> Path:
    if shutil.which("node") is None:
        pytest.skip("these checks run on Node.js: node is not installed here")
    if not (NODE_DIR / "node_modules" / "axe-core").exists():
        _install()
    if not (NODE_DIR / "node_modules" / "axe-core").exists():
        pytest.skip("npm could not install the provenance tools (make provenance-tools)")
    return NODE_DIR


def verify_credentials_with_digital_bazaar(controllers: list[dict],
                                           credentials: list[dict]) -> list[dict]:
    """[{verified, error}] per credential, from jsonld-signatures + eddsa-jcs-2022-cryptosuite."""
    directory = node_dir()
    script = directory / "verify_credentials.mjs"  # next to node_modules, so imports resolve
    shutil.copyfile(HERE / "js" / "verify_credentials.mjs", script)
    done = subprocess.run(["node", str(script)], input=json.dumps(
        {"controllers": controllers, "credentials": credentials}), capture_output=True,
        text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def axe_script() -> Path:
    return node_dir() / "node_modules" / "axe-core" / "axe.min.js"


def tlogcheck(tmp_path: Path) -> Path:
    """Build tests/provenance/go/tlogcheck.go against Debian's x/mod sources."""
    if shutil.which("go") is None or not (GO_SOURCES / "src/golang.org/x/mod/sumdb/tlog").exists():
        _install()
    if shutil.which("go") is None or not (GO_SOURCES / "src/golang.org/x/mod/sumdb/tlog").exists():
        pytest.skip("apt-get install golang-go golang-golang-x-mod-dev for the log proof checks")
    binary = tmp_path / "tlogcheck"
    environment = {**os.environ, "GO111MODULE": "off", "GOPATH": str(GO_SOURCES),
                   "GOCACHE": str(tmp_path / "gocache"), "GOFLAGS": ""}
    subprocess.run(["go", "build", "-o", str(binary), str(HERE / "go" / "tlogcheck.go")],
                   env=environment, check=True, timeout=300, capture_output=True)
    return binary


def run_tlogcheck(binary: Path, data: dict) -> dict:
    done = subprocess.run([str(binary)], input=json.dumps(data), capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
