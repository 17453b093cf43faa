"""What every PDF we make shares: a font that can print Kazakh and Russian names."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

# Names and addresses may be Cyrillic: use a TrueType font that covers it when the machine has
# one, else the PDF core font (Latin only).
_FONT_CANDIDATES = (
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
     "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    ("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
     "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf"),
)


@cache
def font_names() -> tuple[str, str]:
    """(regular, bold) font names registered with reportlab."""
    for regular, bold in _FONT_CANDIDATES:
        if Path(regular).exists() and Path(bold).exists():
            pdfmetrics.registerFont(TTFont("SheberSans", regular))
            pdfmetrics.registerFont(TTFont("SheberSans-Bold", bold))
            return "SheberSans", "SheberSans-Bold"
    return "Helvetica", "Helvetica-Bold"
