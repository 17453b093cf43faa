"""What every PDF we make shares: fonts that print the names and addresses of every buyer.

Buyers write Latin, Cyrillic, Greek, Arabic, Hebrew, Chinese, Japanese and Korean. One font
does not cover them all, so text is cut into runs by script and each run is set in a font that
has its glyphs: Noto Sans (Latin, Cyrillic, Greek), Noto Sans Arabic, Noto Sans Hebrew and
Noto Sans CJK (Debian packages fonts-noto-core and fonts-noto-cjk, installed by ``make
install``); DejaVu Sans, then the PDF core font, when they are missing.

- Arabic and Hebrew runs are shaped with HarfBuzz (joining forms, ligatures) and set right to
  left; a line whose first strong character is right-to-left is laid out right to left (its
  runs in reverse order, numbers and Latin words left to right inside them). This is the
  run-level part of the Unicode bidirectional algorithm, enough for a name or an address line.
- Noto Sans CJK ships PostScript (CFF) outlines, which reportlab cannot embed: the glyphs a run
  needs are converted to TrueType outlines into a small font made for that run (cached).
- Every run keeps its text in the PDF's ToUnicode map, so the text can be searched and
  extracted back (tests/test_pdf_fonts.py reads it back with PDFium and pypdf).

``draw_text`` / ``text_width`` / ``fit_text`` draw on a reportlab canvas; ``TextBlock`` is the
same as a platypus flowable (a table cell, a story item), wrapped to its width.
"""

from __future__ import annotations

import hashlib
import io
import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont, shapeStr
from reportlab.platypus import Flowable

NOTO = Path("/usr/share/fonts/truetype/noto")
NOTO_CJK = Path("/usr/share/fonts/opentype/noto")
DEJAVU = Path("/usr/share/fonts/truetype/dejavu")

# (regular, bold) candidates per face, first present wins
_FACES: dict[str, tuple[tuple[Path, Path], ...]] = {
    "base": ((NOTO / "NotoSans-Regular.ttf", NOTO / "NotoSans-Bold.ttf"),
             (DEJAVU / "DejaVuSans.ttf", DEJAVU / "DejaVuSans-Bold.ttf"),
             (Path("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"),
              Path("/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf"))),
    "arabic": ((NOTO / "NotoSansArabic-Regular.ttf", NOTO / "NotoSansArabic-Bold.ttf"),
               (NOTO / "NotoNaskhArabic-Regular.ttf", NOTO / "NotoNaskhArabic-Bold.ttf")),
    "hebrew": ((NOTO / "NotoSansHebrew-Regular.ttf", NOTO / "NotoSansHebrew-Bold.ttf"),),
    "armenian": ((NOTO / "NotoSansArmenian-Regular.ttf", NOTO / "NotoSansArmenian-Bold.ttf"),),
    "georgian": ((NOTO / "NotoSansGeorgian-Regular.ttf", NOTO / "NotoSansGeorgian-Bold.ttf"),),
    "thai": ((NOTO / "NotoSansThai-Regular.ttf", NOTO / "NotoSansThai-Bold.ttf"),),
}
_CJK_FILES = (NOTO_CJK / "NotoSansCJK-Regular.ttc", NOTO_CJK / "NotoSansCJK-Bold.ttc")
# subfont index in the Noto Sans CJK collection: JP, KR, SC, TC, HK
_CJK_INDEX = {"JP": 0, "KR": 1, "SC": 2, "TC": 3}
_FALLBACK_ORDER = ("base", "arabic", "hebrew", "armenian", "georgian", "thai", "cjk")
_RTL_FACES = frozenset({"arabic", "hebrew"})
_SHAPED_FACES = frozenset({"arabic", "hebrew", "thai"})

_lock = threading.RLock()


@dataclass(frozen=True)
class _Face:
    name: str  # reportlab font name
    cmap: frozenset[int]


@cache
def _face(key: str, bold: bool) -> _Face | None:
    """The reportlab font for a non-CJK face, registered once, or None if none is installed."""
    for regular, heavy in _FACES[key]:
        path = heavy if bold else regular
        if path.exists():
            name = f"Sheber{key.title()}{'-Bold' if bold else ''}"
            with _lock:
                font = TTFont(name, str(path), shapable=key in _SHAPED_FACES)
                pdfmetrics.registerFont(font)
            return _Face(name, frozenset(font.face.charToGlyph))
    return None


@cache
def font_names() -> tuple[str, str]:
    """(regular, bold) names of the base font (Latin, Cyrillic, Greek) registered with
    reportlab; the PDF core font (Latin only) when no TrueType font is installed."""
    regular, bold = _face("base", False), _face("base", True)
    if regular and bold:
        return regular.name, bold.name
    return "Helvetica", "Helvetica-Bold"


def _is_cjk(char: str) -> bool:
    cp = ord(char)
    return (0x1100 <= cp <= 0x11FF or 0x2E80 <= cp <= 0x2FDF or 0x3000 <= cp <= 0x30FF
            or 0x3130 <= cp <= 0x318F or 0x31F0 <= cp <= 0x31FF or 0x3200 <= cp <= 0x9FFF
            or 0xA960 <= cp <= 0xA97F or 0xAC00 <= cp <= 0xD7FF or 0xF900 <= cp <= 0xFAFF
            or 0xFE30 <= cp <= 0xFE4F or 0xFF00 <= cp <= 0xFFEF or 0x20000 <= cp <= 0x3FFFF)


def _cjk_variant(text: str) -> str:
    """Which regional glyph set a CJK run reads best in: Hangul -> KR, kana -> JP, else JP
    (Noto Sans CJK JP covers every unified ideograph, in Japanese forms)."""
    if any(0xAC00 <= ord(c) <= 0xD7FF or 0x1100 <= ord(c) <= 0x11FF or 0x3130 <= ord(c) <= 0x318F
           for c in text):
        return "KR"
    return "JP"


@cache
def _cjk_source(variant: str, bold: bool):
    """The Noto Sans CJK subfont (fontTools, loaded lazily once), or None if not installed."""
    from fontTools.ttLib import TTFont as FontToolsFont

    path = _CJK_FILES[1 if bold else 0]
    if not path.exists():
        return None
    return FontToolsFont(str(path), fontNumber=_CJK_INDEX[variant], lazy=True)


@cache
def _cjk_cmap(variant: str, bold: bool) -> dict[int, str]:
    source = _cjk_source(variant, bold)
    return {} if source is None else dict(source.getBestCmap())


@lru_cache(maxsize=1024)
def _cjk_font(chars: frozenset[str], variant: str, bold: bool) -> str | None:
    """A TrueType font holding just ``chars`` of Noto Sans CJK, registered; its name."""
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    source = _cjk_source(variant, bold)
    if source is None:
        return None
    cmap = _cjk_cmap(variant, bold)
    wanted = {ord(c): cmap[ord(c)] for c in sorted(chars) if ord(c) in cmap}
    names = [".notdef", *sorted(set(wanted.values()) - {".notdef"})]
    with _lock:
        glyph_set = source.getGlyphSet()
        hmtx = source["hmtx"]
        glyphs, metrics = {}, {}
        for glyph in names:
            pen = TTGlyphPen(None)
            glyph_set[glyph].draw(Cu2QuPen(pen, max_err=1.0, reverse_direction=True))
            glyphs[glyph] = pen.glyph()
            metrics[glyph] = hmtx[glyph]
        upem = source["head"].unitsPerEm
        hhea, os2 = source["hhea"], source["OS/2"]
        ascent, descent = hhea.ascent, hhea.descent
    digest = hashlib.sha1("".join(sorted(chars)).encode()).hexdigest()[:12]
    name = f"SheberCJK{variant}{'B' if bold else ''}-{digest}"
    builder = FontBuilder(upem, isTTF=True)
    builder.setupGlyphOrder(names)
    builder.setupCharacterMap(wanted)
    builder.setupGlyf(glyphs)
    glyf = builder.font["glyf"]
    builder.setupHorizontalMetrics({
        g: (advance, getattr(glyf[g], "xMin", 0)) for g, (advance, _) in metrics.items()})
    builder.setupHorizontalHeader(ascent=ascent, descent=descent)
    builder.setupNameTable({"familyName": name, "styleName": "Bold" if bold else "Regular",
                            "psName": name})
    builder.setupOS2(sTypoAscender=os2.sTypoAscender, sTypoDescender=os2.sTypoDescender,
                     usWinAscent=os2.usWinAscent, usWinDescent=os2.usWinDescent,
                     sCapHeight=getattr(os2, "sCapHeight", ascent), fsType=0)
    builder.setupPost()
    data = io.BytesIO()
    builder.save(data)
    data.seek(0)
    with _lock:
        pdfmetrics.registerFont(TTFont(name, data))
    return name


def _face_for(char: str, bold: bool) -> str | None:
    cp = ord(char)
    if _is_cjk(char):
        return "cjk" if cp in _cjk_cmap(_cjk_variant(char), bold) else None
    for key in _FALLBACK_ORDER[:-1]:
        face = _face(key, bold)
        if face is not None and cp in face.cmap:
            # Arabic and Hebrew letters go to their own fonts even if the base font has them
            if key == "base" and _strong_rtl(char):
                continue
            return key
    return None


def _strong_rtl(char: str) -> bool:
    return unicodedata.bidirectional(char) in ("R", "AL")


def _neutral(char: str) -> bool:
    return unicodedata.bidirectional(char) in ("WS", "ON", "CS", "ES", "ET", "BN", "S", "NSM")


@dataclass(frozen=True)
class Run:
    text: str
    face: str  # "base", "arabic", "hebrew", "cjk", ... or "missing"

    @property
    def rtl(self) -> bool:
        return self.face in _RTL_FACES and any(_strong_rtl(c) for c in self.text)


def runs(text: str, bold: bool = False) -> list[Run]:
    """``text`` cut into runs of one face, in logical order. Spaces and punctuation stay with
    the run they are in; digits inside a right-to-left run get their own left-to-right run."""
    out: list[list] = []
    for char in text:
        face = _face_for(char, bold)
        if out and _neutral(char) and face is not None:
            current = out[-1][1]
            if current in ("cjk",) or (current != "missing" and _covers(current, char, bold)):
                out[-1][0].append(char)
                continue
        face = face or "missing"
        if out and out[-1][1] == face:
            out[-1][0].append(char)
        else:
            out.append([[char], face])
    return [Run("".join(chars), face) for chars, face in out]


def _covers(face: str, char: str, bold: bool) -> bool:
    found = _face(face, bold)
    return found is not None and ord(char) in found.cmap


def direction(text: str) -> str:
    """``"rtl"`` when the first strong character of ``text`` is right-to-left, else ``"ltr"``."""
    for char in text:
        kind = unicodedata.bidirectional(char)
        if kind in ("R", "AL"):
            return "rtl"
        if kind == "L":
            return "ltr"
    return "ltr"


def _kind(run: Run) -> str:
    """The run's bidirectional class: R, L, EN (numbers) or N (spaces, punctuation)."""
    kinds = {unicodedata.bidirectional(c) for c in run.text}
    if run.rtl or kinds & {"R", "AL"}:
        return "R"
    if "L" in kinds or run.face == "missing":
        return "L"
    if kinds & {"EN", "AN"}:
        return "EN"
    return "N"


def _split_spaces(line: list[Run]) -> list[Run]:
    out = []
    for run in line:
        core = run.text.strip(" ")
        lead = len(run.text) - len(run.text.lstrip(" "))
        trail = len(run.text) - len(run.text.rstrip(" "))
        if not core or (lead == 0 and trail == 0):
            out.append(run)
            continue
        out += [Run(" " * lead, "base")] if lead else []
        out.append(Run(core, run.face))
        out += [Run(" " * trail, "base")] if trail else []
    return out


def _visual(line: list[Run], base: str | None = None) -> list[Run]:
    """Runs in the order they are drawn, left to right: the run-level Unicode bidirectional
    algorithm (UAX #9: numbers after right-to-left text join it, neutrals take the direction
    of their neighbours when both agree, else the paragraph's; levels then reversed, rule L2).
    Right-to-left runs are shaped right to left by HarfBuzz themselves."""
    line = _split_spaces(line)
    if not line:
        return line
    paragraph = 1 if (base or direction("".join(r.text for r in line))) == "rtl" else 0
    kinds = [_kind(run) for run in line]
    previous = "R" if paragraph else "L"
    for i, kind in enumerate(kinds):  # W2: a number after right-to-left text is Arabic
        if kind == "EN" and previous == "R":
            kinds[i] = "AN"
        elif kind in ("R", "L"):
            previous = kind
    strong = ["R" if k in ("R", "AN") else "L" if k in ("L", "EN") else None for k in kinds]
    for i, kind in enumerate(strong):  # N1/N2: neutrals between two equal directions take it
        if kind is None:
            before = next((k for k in reversed(strong[:i]) if k), "R" if paragraph else "L")
            after = next((k for k in strong[i + 1:] if k), "R" if paragraph else "L")
            strong[i] = before if before == after else ("R" if paragraph else "L")
    levels = []
    for kind, resolved in zip(kinds, strong, strict=True):  # I1/I2
        if paragraph == 0:
            levels.append(2 if kind == "AN" else 1 if resolved == "R" else 0)
        else:
            levels.append(2 if kind in ("L", "EN", "AN") or resolved == "L" else 1)
    order = list(range(len(line)))
    for level in range(max(levels), 0, -1):  # L2
        i = 0
        while i < len(order):
            if levels[order[i]] >= level:
                j = i
                while j < len(order) and levels[order[j]] >= level:
                    j += 1
                order[i:j] = reversed(order[i:j])
                i = j
            else:
                i += 1
    return [line[i] for i in order]


def _font_for_run(run: Run, bold: bool) -> str:
    if run.face == "cjk":
        name = _cjk_font(frozenset(run.text), _cjk_variant(run.text), bold)
        if name:
            return name
    if run.face not in ("missing", "cjk"):
        face = _face(run.face, bold)
        if face is not None:
            return face.name
    return font_names()[1 if bold else 0]


def _pieces(text: str, size: float, bold: bool,
            base: str | None = None) -> Iterator[tuple[str, object, float]]:
    """(font name, string to draw, width) for each run, in visual order."""
    for run in _visual(runs(text, bold), base):
        font = _font_for_run(run, bold)
        drawn: object = run.text
        if run.face in _SHAPED_FACES:
            drawn = shapeStr(run.text, font, size, force=True)
            width = sum(g.x_advance for g in drawn.__shapeData__) * size / 1000
        else:
            width = pdfmetrics.stringWidth(run.text, font, size)
        yield font, drawn, width


@lru_cache(maxsize=16384)
def _measured(text: str, size: float, bold: bool,
              base: str | None = None) -> tuple[tuple[str, object, float], ...]:
    """``_pieces``, kept: a document measures the same cell text many times while it wraps
    and lays out its tables, and every document repeats its labels and headings."""
    return tuple(_pieces(text, size, bold, base))


def text_width(text: str, size: float, bold: bool = False) -> float:
    return sum(width for _, _, width in _measured(text, size, bold))


def draw_text(canvas, x: float, y: float, text: str, size: float, *, bold: bool = False,
              align: str = "left", base: str | None = None) -> float:
    """Draw one line of ``text`` in whatever scripts it holds; ``align`` is ``left``,
    ``right`` (``x`` is the right edge) or ``centre``; ``base`` is the paragraph direction
    (``"ltr"``/``"rtl"``, default: from its first strong character). Returns the width."""
    pieces = _measured(text, size, bold, base)
    width = sum(w for _, _, w in pieces)
    if align == "right":
        x -= width
    elif align == "centre":
        x -= width / 2
    previous = (canvas._fontname, canvas._fontsize)
    for font, drawn, piece_width in pieces:
        canvas.setFont(font, size)
        canvas.drawString(x, y, drawn)
        x += piece_width
    canvas.setFont(*previous)
    return width


def fit_text(text: str, size: float, width: float, bold: bool = False) -> str:
    """``text`` cut (with an ellipsis) so that it fits ``width`` points."""
    if text_width(text, size, bold) <= width:
        return text
    while text and text_width(text + "…", size, bold) > width:
        text = text[:-1]
    return text + "…"


def wrap(text: str, size: float, width: float, bold: bool = False) -> list[str]:
    """``text`` broken into lines that fit ``width`` points: at new lines, then between words
    (a word longer than a line, as CJK text is, is broken between characters)."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        whole = paragraph.lstrip(" ")  # what the word loop below makes of a line that fits
        if text_width(whole, size, bold) <= width:
            lines.append(whole)
            continue
        current = ""
        for word in paragraph.split(" "):
            candidate = f"{current} {word}" if current else word
            if text_width(candidate, size, bold) <= width:
                current = candidate
                continue
            if current:
                lines.append(current)
            current = ""
            if text_width(word, size, bold) <= width:
                current = word
                continue
            for char in word:
                if current and text_width(current + char, size, bold) > width:
                    lines.append(current)
                    current = ""
                current += char
        lines.append(current)
    return lines


class TextBlock(Flowable):
    """A platypus flowable (a table cell, a story item): ``text`` wrapped to the width it is
    given and drawn with ``draw_text``, so that every script prints."""

    def __init__(self, text: str, size: float = 8, *, bold: bool = False,
                 leading: float | None = None, align: str = "left"):
        super().__init__()
        self.text, self.size, self.bold = text, size, bold
        self.leading = leading or size * 1.25
        self.align = align
        self._lines: list[tuple[str, str]] = []

    def wrap(self, available_width, available_height):
        self._lines = [
            (line, direction(paragraph))
            for paragraph in self.text.split("\n")
            for line in wrap(paragraph, self.size, available_width, self.bold)]
        self.width = available_width
        self.height = self.leading * len(self._lines)
        return self.width, self.height

    def draw(self):
        y = self.height - self.size
        x = {"left": 0, "right": self.width, "centre": self.width / 2}[self.align]
        for line, base in self._lines:
            draw_text(self.canv, x, y, line, self.size, bold=self.bold, align=self.align,
                      base=base)
            y -= self.leading
