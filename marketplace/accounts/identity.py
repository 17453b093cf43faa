"""Identity hygiene: one spelling per e-mail address, no look-alike addresses, no guessable
passwords.

E-mail: NFKC, case-folded, the domain in its IDNA (A-label, ``xn--``) form, so ``Ａdmin@Exa
mple.KZ`` and ``admin@example.kz`` are one account. A local part or a domain label that mixes
letters of two scripts (a Cyrillic "а" among Latin letters) is refused: such an address reads
the same as another and exists only to deceive. An address written wholly in another script
that reads as an existing one (Cyrillic "ѕсоре@..." for "scope@...") is caught by its UTS #39
skeleton (``email_skeleton``: Unicode's confusables table, data/security/), which accounts
store and registration compares (``reads_as``).

Passwords follow NIST SP 800-63B §5.1.1.2: a minimum length, no composition rules, and a refusal
of passwords that are common (the bundled list of 19,640 from breach corpora), repetitive or
sequential, or built from the site's name or the user's own address.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import re
import unicodedata
from pathlib import Path

import idna

SECURITY_DATA = Path(__file__).resolve().parents[2] / "data" / "security"
COMMON_PASSWORDS = SECURITY_DATA / "common-passwords.txt.gz"
CONFUSABLES = (SECURITY_DATA / "confusables.txt.gz", SECURITY_DATA / "confusables-supplement.txt")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 200
CONTEXT_WORDS = ("sheber", "шебер")
# Scripts whose letters are confusable with each other's (UTS #39 "mixed-script confusables").
_SCRIPT_OF_NAME = re.compile(r"^(LATIN|CYRILLIC|GREEK|ARMENIAN|GEORGIAN|CHEROKEE|COPTIC)\b")
_SEQUENCES = ("abcdefghijklmnopqrstuvwxyz", "0123456789", "qwertyuiop", "asdfghjkl", "zxcvbnm",
              "йцукенгшщзхъ", "фывапролджэ", "абвгдеёжзийклмнопрстуфхцчшщъыьэюя")


class IdentityRefused(ValueError):
    """A value that is refused; ``reason`` is a stable word for the message catalogue."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


def _scripts(text: str) -> set[str]:
    found = set()
    for char in text:
        if not char.isalpha():
            continue
        match = _SCRIPT_OF_NAME.match(unicodedata.name(char, ""))
        found.add(match.group(1) if match else "OTHER")
    return found


def _mixes_confusable_scripts(text: str) -> bool:
    scripts = _scripts(text) - {"OTHER"}
    return len(scripts) > 1


def normalise_email(email: str) -> str:
    """The one stored spelling of an address; ``IdentityRefused`` when it cannot be one."""
    text = unicodedata.normalize("NFKC", email).strip()
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain or len(text) > 254:
        raise IdentityRefused("not a valid email address", "invalid")
    local = unicodedata.normalize("NFKC", local.casefold())
    if any(unicodedata.category(char)[0] in "CZ" for char in local):
        raise IdentityRefused("not a valid email address", "invalid")
    labels = domain.rstrip(".").split(".")
    if _mixes_confusable_scripts(local) or any(map(_mixes_confusable_scripts, labels)):
        raise IdentityRefused("the address mixes letters of different scripts", "confusable")
    try:
        ascii_domain = idna.encode(domain.rstrip("."), uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        raise IdentityRefused("not a valid email address", "invalid") from None
    if "." not in ascii_domain or len(ascii_domain.rsplit(".", 1)[1]) < 2:
        raise IdentityRefused("not a valid email address", "invalid")
    return f"{local}@{ascii_domain}"


@functools.lru_cache(maxsize=1)
def confusable_prototypes() -> dict[str, str]:
    """UTS #39 confusables.txt: each source character's prototype (the supplement's lines
    replace the table's)."""
    table: dict[str, str] = {}
    for path in CONFUSABLES:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8-sig") as handle:
            for line in handle:
                fields = line.split("#", 1)[0].split(";")
                if len(fields) < 3:
                    continue
                source = "".join(chr(int(code, 16)) for code in fields[0].split())
                table[source] = "".join(chr(int(code, 16)) for code in fields[1].split())
    return table


def skeleton(text: str) -> str:
    """UTS #39 §4: NFD, each character replaced by its prototype, NFD again. Two strings with
    the same skeleton read the same ("ѕсоре" and "scope" both give "scope")."""
    prototypes = confusable_prototypes()
    mapped = "".join(prototypes.get(char, char) for char in unicodedata.normalize("NFD", text))
    return unicodedata.normalize("NFD", mapped)


def readable_email(stored: str) -> str:
    """A stored address as a reader sees it: the domain's U-label, not its ``xn--`` form."""
    local, _, domain = stored.rpartition("@")
    with contextlib.suppress(idna.IDNAError, UnicodeError):
        domain = idna.decode(domain)
    return f"{local}@{domain}"


def email_skeleton(stored: str) -> str:
    """The skeleton of a stored address (``normalise_email``'s form) as a reader sees it."""
    return skeleton(readable_email(stored))


def reads_as(new: str, existing: str) -> bool:
    """Whether a new stored address would pass for an existing one: the same skeleton, and one
    of them not plain ASCII as read. Two ASCII addresses ("rn" beside "m", "1" beside "l") are
    both real mailboxes people have, told apart by every mail client; the look-alikes this
    refuses are made with another script's letters."""
    if new == existing:
        return True
    if readable_email(new).isascii() and readable_email(existing).isascii():
        return False
    return email_skeleton(new) == email_skeleton(existing)


def lookup_email(email: str) -> str:
    """The stored spelling to look an address up by (sign-in): never refuses, so a refused
    address simply matches no account."""
    try:
        return normalise_email(email)
    except IdentityRefused:
        return unicodedata.normalize("NFKC", email).strip().casefold()


@functools.lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    with gzip.open(COMMON_PASSWORDS, "rt", encoding="utf-8") as handle:
        return frozenset(line.strip() for line in handle if line.strip())


def _sequential(text: str) -> bool:
    if len(set(text)) <= 2:
        return True
    for sequence in _SEQUENCES:
        for run in (sequence, sequence[::-1]):
            if text in run * 3:
                return True
    return False


def check_password(password: str, *, email: str | None = None) -> None:
    """Refuse a password an attacker would try first; ``IdentityRefused.reason`` says why."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise IdentityRefused(f"use at least {MIN_PASSWORD_LENGTH} characters", "too_short")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise IdentityRefused(f"use at most {MAX_PASSWORD_LENGTH} characters", "too_long")
    folded = unicodedata.normalize("NFKC", password).casefold()
    squeezed = re.sub(r"[\s\W_]+", "", folded)
    common = common_passwords()
    if folded in common or squeezed in common or re.sub(r"\d+$", "", squeezed) in common \
            and len(squeezed) - len(re.sub(r"\d+$", "", squeezed)) <= 4:
        raise IdentityRefused("this password is among the most common ones", "common")
    if _sequential(squeezed or folded):
        raise IdentityRefused("this password is a repeated or sequential run", "sequential")
    words = list(CONTEXT_WORDS)
    if email:
        local = email.split("@")[0].casefold()
        if len(local) >= 4:
            words.append(local)
    remainder = squeezed
    for word in words:
        remainder = remainder.replace(re.sub(r"[\s\W_]+", "", word), "")
    if len(remainder) < 4:
        raise IdentityRefused("this password is made of the site's name or your address",
                              "context")
