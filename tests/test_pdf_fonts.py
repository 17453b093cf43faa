"""Every script buyers write prints, and reads back from the PDF with two readers not ours
(PDFium, pypdf): Latin, Cyrillic, Japanese, Chinese, Korean, Arabic, Hebrew."""

from __future__ import annotations

import io
import unicodedata
from pathlib import Path

import pypdf
import pypdfium2
import pytest
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import SimpleDocTemplate, Table

from marketplace import pdf

NOTO_PRESENT = (Path(pdf.NOTO / "NotoSans-Regular.ttf").exists()
                and Path(pdf.NOTO_CJK / "NotoSansCJK-Regular.ttc").exists())
needs_noto = pytest.mark.skipif(not NOTO_PRESENT, reason="fonts-noto-core/-cjk not installed "
                                                         "(make fonts)")

NAMES = {
    "ja": "山田太郎 東京都渋谷区神南1-2-3",
    "zh": "王小明 北京市朝阳区",
    "ko": "김민준 서울특별시",
    "ar": "محمد العلي، شارع الشيخ زايد 12",
    "he": "דוד כהן, רחוב הרצל 5",
    "ru": "Айгерим Нурланова, ул. Абая 10",
    "latin": "Zoë Müller-Łukasiewicz, Øresund",
}


def _canvas_pdf(texts, bold=False) -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, invariant=1)
    y = 800
    for text in texts:
        pdf.draw_text(canvas, 40, y, text, 12, bold=bold)
        y -= 24
    canvas.save()
    return buffer.getvalue()


def _pdfium_text(data: bytes) -> str:
    document = pypdfium2.PdfDocument(data)
    return "\n".join(page.get_textpage().get_text_range() for page in document)


def _pypdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    # pypdf reports Arabic joining forms and ligatures as presentation forms: NFKC folds them
    return unicodedata.normalize("NFKC", "\n".join(p.extract_text() for p in reader.pages))


@needs_noto
@pytest.mark.parametrize("bold", [False, True])
def test_every_script_reads_back_with_pdfium(bold):
    data = _canvas_pdf(NAMES.values(), bold=bold)
    lines = [line.strip() for line in _pdfium_text(data).splitlines()]
    assert lines == list(NAMES.values())


@needs_noto
def test_japanese_and_arabic_read_back_with_pypdf():
    text = _pypdf_text(_canvas_pdf([NAMES["ja"], NAMES["ar"]]))
    # pypdf starts a new line at each change of font
    assert "".join(NAMES["ja"].split()) in "".join(text.split())
    for word in ("محمد", "العلي", "شارع", "الشيخ", "زايد"):
        assert word in text


@needs_noto
def test_no_character_falls_back_to_a_missing_glyph():
    for text in NAMES.values():
        assert all(run.face != "missing" for run in pdf.runs(text)), text


@needs_noto
def test_cjk_fonts_are_embedded_truetype_subsets():
    data = _canvas_pdf([NAMES["ja"], NAMES["ko"]])
    reader = pypdf.PdfReader(io.BytesIO(data))
    fonts = reader.pages[0]["/Resources"]["/Font"]
    names = [str(font.get_object()["/BaseFont"]) for font in fonts.values()]
    assert any("SheberCJKJP" in name for name in names)
    assert any("SheberCJKKR" in name for name in names)
    for font in fonts.values():
        font = font.get_object()
        descriptor = font.get("/FontDescriptor")
        if descriptor is not None:
            assert "/FontFile2" in descriptor.get_object()  # embedded TrueType


@needs_noto
def test_a_right_to_left_line_runs_right_to_left():
    data = _canvas_pdf(["محمد 12"])
    page = pypdfium2.PdfDocument(data)[0].get_textpage()
    boxes = {page.get_text_range(i, 1): page.get_charbox(i)[0] for i in range(page.count_chars())}
    # the number stays left to right, at the left of the Arabic word it follows
    assert boxes["1"] < boxes["2"] < boxes["م"]


@needs_noto
def test_a_text_block_wraps_and_prints_in_a_platypus_story():
    buffer = io.BytesIO()
    names = pdf.TextBlock("\n".join(NAMES.values()), 9)
    narrow = Table([[pdf.TextBlock(NAMES["ja"] + " " + NAMES["zh"], 9)]], colWidths=[90])
    SimpleDocTemplate(buffer, invariant=1).build([names, narrow])
    lines = [line.strip() for line in _pdfium_text(buffer.getvalue()).splitlines()]
    assert lines[:len(NAMES)] == list(NAMES.values())
    wrapped = "".join("".join(lines[len(NAMES):]).split())
    assert wrapped == "".join((NAMES["ja"] + NAMES["zh"]).split())
    assert len(lines) > len(NAMES) + 1  # the narrow cell wrapped


def test_wrap_keeps_every_character_and_fits():
    text = "山田太郎東京都渋谷区神南一丁目二番三号 and a long Latin tail of words"
    lines = pdf.wrap(text, 9, 60)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert all(pdf.text_width(line, 9) <= 60 for line in lines)


def test_fit_text_cuts_with_an_ellipsis():
    assert pdf.fit_text("short", 9, 500) == "short"
    cut = pdf.fit_text("a rather long description of a felt rug", 9, 50)
    assert cut.endswith("…") and pdf.text_width(cut, 9) <= 50
