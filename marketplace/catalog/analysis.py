"""The text analysis of catalogue search, in Python so that SQLite and PostgreSQL index and
query exactly the same terms.

A listing is indexed as terms per field (title, tags, body) plus "fold keys":

- words are lower-cased letter runs or digit runs (nothing else is a term, so nothing a buyer
  types is query syntax);
- English and Russian text is stemmed with Snowball (PyStemmer), Kazakh text is kept as it is
  written (there is no Kazakh stemmer): Kazakh endings are met by prefix and trigram matching
  at query time;
- every word also gives a fold key: Cyrillic (Russian and Kazakh letters) transliterated to
  Latin, Latin spellings of Kazakh (q, ş, ğ, ñ, j, ü ...) folded the same way, y/ы dropped and
  doubled letters merged, so that dombyra, dombra, домбыра and домбра, or qoshqar, кошкар and
  қошқар meet.

A query word matches exactly through its own forms (raw and stemmed, as a prefix) and, ranked
below, through its expansions: its fold key, the craft glossary (``data/search/glossary.json``:
the same material, technique or object in kk/ru/en and the buyers' de/fr/es/it/tr/ja/zh) and
catalogue words it is a typo of (five letters or more) or, for Cyrillic, a Kazakh inflection of
(shared stem and trigram similarity).
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path

import Stemmer

GLOSSARY_FILE = Path(__file__).resolve().parents[2] / "data" / "search" / "glossary.json"

# Snowball algorithms for the languages buyers type; listings are written in en/ru/kk.
STEMMERS = {"en": "english", "ru": "russian", "de": "german", "fr": "french",
            "es": "spanish", "it": "italian", "tr": "turkish"}
LATIN_STEMMED = ("en", "de", "fr", "es", "it", "tr")
LISTING_LANGUAGES = ("en", "ru", "kk")
MAX_WORDS = 12
MIN_TYPO_LENGTH = 5  # typo tolerance from five letters up
MIN_KAZAKH_LENGTH = 4
MIN_PREFIX_LENGTH = 2
MIN_VOCABULARY_LENGTH = 4  # shorter words are never fuzzy-matched, so need no vocabulary entry
TRIGRAM_FLOOR = 0.25  # every fuzzy acceptance has at least this similarity (candidate queries)
KAZAKH_SIMILARITY = 0.4

_WORD = re.compile(r"[^\W\d_]+|[0-9]+")
_CJK = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LATIN = re.compile(r"[a-z\u00c0-\u024f]")

_CYRILLIC_TO_LATIN = {
    "а": "a", "ә": "a", "б": "b", "в": "v", "г": "g", "ғ": "g", "д": "d", "е": "e", "ё": "e",
    "ж": "zh", "з": "z", "и": "i", "й": "i", "к": "k", "қ": "k", "л": "l", "м": "m", "н": "n",
    "ң": "n", "о": "o", "ө": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ұ": "u",
    "ү": "u", "ф": "f", "х": "kh", "һ": "h", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "sh",
    "ъ": "", "ы": "", "і": "i", "ь": "", "э": "e", "ю": "u", "я": "ia",
}
# Latin letters of Kazakh, Turkish and the buyers' languages, before diacritics are dropped.
_LATIN_FOLD = {"ş": "sh", "ç": "ch", "ğ": "g", "ı": "", "ñ": "n", "ß": "ss", "q": "k",
               "x": "kh", "j": "zh", "w": "v", "y": ""}
_FOLD_DIGRAPHS = (("gh", "g"),)


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFC", text or "").lower()
    return text.replace("ё", "е").replace("\u0307", "")


def tokens(text: str) -> list[str]:
    """Lower-cased words of ``text``: runs of letters or of ASCII digits."""
    return _WORD.findall(normalize(text))


def is_cyrillic(word: str) -> bool:
    return bool(_CYRILLIC.search(word))


def is_latin(word: str) -> bool:
    return bool(_LATIN.search(word)) and not is_cyrillic(word)


def has_cjk(word: str) -> bool:
    return bool(_CJK.search(word))


@cache
def _stemmer(lang: str):
    return Stemmer.Stemmer(STEMMERS[lang])


def stem(lang: str, word: str) -> str:
    return _stemmer(lang).stemWord(word)


def listing_term(word: str, lang: str | None) -> str:
    """The term a listing's word is indexed under: stemmed when the field is English or
    Russian and the word is in that language's script, else as written (Kazakh)."""
    if lang == "en" and is_latin(word):
        return stem("en", word)
    if lang == "ru" and is_cyrillic(word):
        return stem("ru", word)
    return word


def fold(word: str) -> str:
    """The spelling-neutral key of a word (see the module docstring)."""
    out = []
    for char in normalize(word):
        if char in _CYRILLIC_TO_LATIN:
            out.append(_CYRILLIC_TO_LATIN[char])
        elif char in _LATIN_FOLD:
            out.append(_LATIN_FOLD[char])
        else:
            decomposed = unicodedata.normalize("NFKD", char)
            out.append("".join(c for c in decomposed if not unicodedata.combining(c)))
    key = "".join(out)
    for digraph, single in _FOLD_DIGRAPHS:
        key = key.replace(digraph, single)
    return re.sub(r"(.)\1+", r"\1", key)


# --- listings ---

def field_terms(texts: dict[str, str] | None) -> list[str]:
    """Terms of a translated field ({lang: text}), in order, duplicates kept (positions)."""
    terms: list[str] = []
    for lang, text in (texts or {}).items():
        terms += [listing_term(word, lang) for word in tokens(text)]
    return terms


def tag_terms(values: list[str] | None) -> list[str]:
    """Materials and techniques are written in English (the form's vocabulary)."""
    return [listing_term(word, "en") for value in values or [] for word in tokens(value)]


def fold_terms(*texts: str) -> list[str]:
    keys = dict.fromkeys(fold(word) for text in texts for word in tokens(text))
    return [key for key in keys if len(key) >= 3]


@dataclass(frozen=True)
class Document:
    """What a listing is indexed under: space-separated terms per field."""

    title: str
    tags: str
    body: str
    alt: str

    def vocabulary(self) -> set[str]:
        words = f"{self.title} {self.tags} {self.body} {self.alt}".split()
        return {word for word in words if len(word) >= MIN_VOCABULARY_LENGTH}


def document(title: dict | None, description: dict | None, materials: list | None,
             techniques: list | None) -> Document:
    # Expansions reach the title and tags only: a word of another language in a description
    # ("with a silver-plated ring band") says less about what the piece is.
    raw = [*(title or {}).values(), *(materials or []), *(techniques or [])]
    return Document(
        title=" ".join(field_terms(title)),
        tags=" ".join(tag_terms([*(materials or []), *(techniques or [])])),
        body=" ".join(field_terms(description)),
        alt=" ".join(fold_terms(*raw)),
    )


# --- the glossary ---

@dataclass(frozen=True)
class Concept:
    id: str
    kind: str
    expansions: tuple[tuple[str, bool], ...]  # (listing term, as a prefix)


@dataclass(frozen=True)
class Glossary:
    concepts: dict[str, Concept]
    keys: dict[str, frozenset[str]]  # lookup key -> concept ids
    ideographic: dict[str, frozenset[str]]  # ja/zh word -> concept ids (matched inside text)


def _lookup_keys(word: str, lang: str) -> set[str]:
    keys = {word}
    if lang in STEMMERS:
        keys.add(f"{lang}:{stem(lang, word)}")
    if len(fold(word)) >= 4:
        keys.add(f"~{fold(word)}")
    return keys


def _expansions(terms: dict[str, list[str]]) -> tuple[tuple[str, bool], ...]:
    out: dict[tuple[str, bool], None] = {}
    for lang in LISTING_LANGUAGES:
        for value in terms.get(lang, []):
            for word in tokens(value):
                term = listing_term(word, lang)
                # Kazakh words take endings: their stem is the written word, as a prefix.
                out[(term, lang == "kk" and len(term) >= MIN_KAZAKH_LENGTH)] = None
    return tuple(out)


@cache
def glossary(path: str = str(GLOSSARY_FILE)) -> Glossary:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    concepts: dict[str, Concept] = {}
    keys: dict[str, set[str]] = {}
    ideographic: dict[str, set[str]] = {}
    for entry in data["concepts"]:
        concepts[entry["id"]] = Concept(entry["id"], entry["kind"],
                                        _expansions(entry["terms"]))
        for lang, values in entry["terms"].items():
            for value in values:
                if lang in ("ja", "zh"):
                    ideographic.setdefault(normalize(value), set()).add(entry["id"])
                    continue
                words = tokens(value)
                if len(words) != 1:
                    raise ValueError(f"glossary {entry['id']}/{lang}: one word per entry: {value}")
                for key in _lookup_keys(words[0], lang):
                    keys.setdefault(key, set()).add(entry["id"])
    return Glossary(concepts, {k: frozenset(v) for k, v in keys.items()},
                    {k: frozenset(v) for k, v in ideographic.items()})


def concepts_for(word: str) -> frozenset[str]:
    """The glossary concepts a query word names, in whichever language it is written."""
    table = glossary()
    found: set[str] = set(table.keys.get(word, ()))
    languages = LATIN_STEMMED if is_latin(word) else ("ru",) if is_cyrillic(word) else ()
    for lang in languages:
        found |= table.keys.get(f"{lang}:{stem(lang, word)}", set())
    if len(fold(word)) >= 4:
        found |= table.keys.get(f"~{fold(word)}", set())
    return frozenset(found)


# --- queries ---

@dataclass
class Word:
    """One query word: its exact forms (prefixes) and what it is widened to."""

    text: str
    exact: tuple[str, ...]
    expansions: tuple[tuple[str, bool], ...]  # (term, as a prefix)
    fuzzy: bool  # looked up in the catalogue's vocabulary (typos, Kazakh endings)
    fuzzy_terms: tuple[str, ...] = field(default=())
    resolved: bool = False  # fuzzy_terms looked up
    # none of its exact forms is a catalogue word (from the vocabulary, with the fuzzy terms)
    unknown: bool = False

    def exact_forms(self) -> list[tuple[str, bool]]:
        """The word as typed matches as a word prefix; its stem matches the listings' stems."""
        return [(self.text, True), *((form, False) for form in self.exact if form != self.text)]

    def widen(self, concepts: frozenset[str]) -> None:
        """Add the glossary words of ``concepts`` to the expansions."""
        table = glossary()
        known = dict.fromkeys(self.expansions)
        for concept in sorted(concepts):
            for expansion in table.concepts[concept].expansions:
                if expansion[0] not in self.exact:
                    known[expansion] = None
        self.expansions = tuple(known)


@lru_cache(maxsize=4096)
def _word_forms(text: str) -> tuple[tuple[str, ...], tuple[tuple[str, bool], ...], bool]:
    """(exact forms, expansions, fuzzy) of a query word: a function of the word alone (and of
    the glossary, read once), so kept for the words buyers type most."""
    exact = {text}
    if is_latin(text):
        exact.add(stem("en", text))
    elif is_cyrillic(text):
        exact.add(stem("ru", text))
    key = fold(text)
    expansions = ((key, False),) if len(key) >= 3 and key not in exact else ()
    fuzzy = not text.isdigit() and (
        len(text) >= MIN_TYPO_LENGTH or (is_cyrillic(text) and len(text) >= MIN_KAZAKH_LENGTH))
    word = Word(text=text, exact=tuple(sorted(exact)), expansions=expansions, fuzzy=fuzzy)
    word.widen(concepts_for(text))
    return word.exact, word.expansions, word.fuzzy


def _word(text: str) -> Word:
    # a new Word each time: resolving its fuzzy terms widens it
    exact, expansions, fuzzy = _word_forms(text)
    return Word(text=text, exact=exact, expansions=expansions, fuzzy=fuzzy)


def _ideographic_words(text: str) -> list[Word]:
    """Japanese or Chinese text has no spaces: each glossary word found inside it is a word."""
    table = glossary().ideographic
    found: list[Word] = []
    position, rest = 0, text
    while position < len(rest):
        match = max((w for w in table if rest.startswith(w, position)), key=len, default=None)
        if match is None:
            position += 1
            continue
        expansions: dict[tuple[str, bool], None] = {}
        for concept in sorted(table[match]):
            for expansion in glossary().concepts[concept].expansions:
                expansions[expansion] = None
        found.append(Word(text=match, exact=(match,), expansions=tuple(expansions),
                          fuzzy=False))
        position += len(match)
    return found or [Word(text=text, exact=(text,), expansions=(), fuzzy=False)]


def parse(query: str | None) -> list[Word]:
    """The words of a query, at most MAX_WORDS."""
    words: list[Word] = []
    for text in dict.fromkeys(tokens(query or "")):
        words += _ideographic_words(text) if has_cjk(text) else [_word(text)]
    return words[:MAX_WORDS]


# --- fuzzy matching (the same decision on every database) ---

def trigrams(word: str) -> set[str]:
    """pg_trgm's trigrams of one word: two spaces before, one after."""
    padded = f"  {word} "
    return {padded[i:i + 3] for i in range(len(padded) - 2)}


def similarity(a: str, b: str) -> float:
    """pg_trgm's similarity(): shared trigrams over all trigrams of both."""
    x, y = trigrams(a), trigrams(b)
    return len(x & y) / len(x | y) if x and y else 0.0


def edit_distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein (optimal string alignment) distance, or limit + 1 beyond limit."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] | None = None
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if (previous2 is not None and i > 1 and j > 1 and ca == b[j - 2]
                    and a[i - 2] == cb):
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def fuzzy_probes(word: Word) -> list[str]:
    """The strings whose trigram neighbours in the vocabulary are candidates for ``word``."""
    if not word.fuzzy:
        return []
    probes = [word.text]
    key = fold(word.text)
    if len(key) >= MIN_TYPO_LENGTH and key != word.text:
        probes.append(key)
    return probes


def accepts(word: Word, term: str) -> bool:
    """Is the catalogue term ``term`` a fuzzy match of ``word``?"""
    if term in word.exact or len(term) < MIN_VOCABULARY_LENGTH:
        return False
    text = word.text
    if len(text) >= MIN_TYPO_LENGTH:
        limit = 1 if len(text) <= 7 else 2
        if similarity(text, term) >= TRIGRAM_FLOOR and edit_distance(text, term, limit) <= limit:
            return True
        key = fold(text)
        if (len(key) >= MIN_TYPO_LENGTH and similarity(key, term) >= TRIGRAM_FLOOR
                and edit_distance(key, term, 1) <= 1):
            return True
    if is_cyrillic(text) and len(text) >= MIN_KAZAKH_LENGTH and is_cyrillic(term):
        return (_common_prefix(text, term) >= MIN_KAZAKH_LENGTH
                and similarity(text, term) >= KAZAKH_SIMILARITY)
    return False
