"""Illustrations for pieces without a photo (the demo catalogue): drawn here with Pillow from
the ornaments of Kazakh applied art, never passed off as photos (``ProductImage.illustration``).

- *qoshqar müiz* (қошқар мүйіз, "ram's horn"): pairs of spirals curling away from a stem;
- *tumar* (тұмар): the triangular amulet, nested triangles on a band, as on jewellery and
  leather;
- *syrmaq* (сырмақ): the mosaic felt rug, a field of cells each holding a stepped cross in the
  contrasting colour, inside a border.

Each craft has its ornament and palette; the piece's title varies colours and rhythm, so two
pieces of one workshop do not look alike. The same title always gives the same picture.
"""

from __future__ import annotations

import hashlib
import io
import math

from PIL import Image, ImageDraw

SIZE = 960

# craft -> (ornament, palettes: (ground, figure, accent))
CRAFT_ORNAMENTS: dict[str, tuple[str, list[tuple[str, str, str]]]] = {
    "jewellery": ("tumar", [("#1d3557", "#d9dde3", "#3fa7a3"), ("#2b2d42", "#e5e5e5", "#c9a227")]),
    "ceramics": ("qoshqar_muiz", [("#0b6e6e", "#f3ead8", "#c7522a"),
                                  ("#2a6f97", "#f7f1e3", "#e9c46a")]),
    "felt": ("syrmaq", [("#9b2226", "#f1e3c6", "#1b3a4b"), ("#f1e3c6", "#7f1d1d", "#264653")]),
    "textiles": ("syrmaq", [("#264653", "#e9c46a", "#e76f51"), ("#5a189a", "#ffd166", "#ef476f")]),
    "leather": ("tumar", [("#7f4f24", "#ede0d4", "#582f0e"), ("#582f0e", "#e6ccb2", "#b08968")]),
    "wood": ("qoshqar_muiz", [("#b08968", "#3d2b1f", "#7f5539"),
                              ("#ddb892", "#432818", "#99582a")]),
    "metal": ("tumar", [("#343a40", "#ced4da", "#c08552")]),
    "instruments": ("qoshqar_muiz", [("#6f4518", "#f4e3c1", "#a0522d"),
                                     ("#3c1518", "#f2d0a4", "#d58936")]),
    "other": ("syrmaq", [("#3d405b", "#f4f1de", "#e07a5f")]),
}

NAMES = {
    "qoshqar_muiz": {"en": "qoshqar müiz (ram's horn) ornament", "ru": "орнамент «кошкар мюйиз»",
                     "kk": "қошқар мүйіз өрнегі"},
    "tumar": {"en": "tumar amulet ornament", "ru": "орнамент «тумар»", "kk": "тұмар өрнегі"},
    "syrmaq": {"en": "syrmaq mosaic-felt ornament", "ru": "орнамент сырмака",
               "kk": "сырмақ өрнегі"},
}
LABEL = {"en": "Illustration", "ru": "Иллюстрация", "kk": "Иллюстрация"}


def _numbers(title: str) -> list[int]:
    return list(hashlib.sha256(title.encode("utf-8")).digest())


def _spiral(cx: float, cy: float, radius: float, turns: float, start: float,
            direction: int) -> list[tuple[float, float]]:
    points = []
    steps = int(80 * turns)
    for i in range(steps + 1):
        t = i / steps
        angle = start + direction * t * turns * 2 * math.pi
        r = radius * (1 - 0.82 * t)
        points.append((cx + r * math.cos(angle), cy + r * math.sin(angle)))
    return points


def _horns(draw: ImageDraw.ImageDraw, cx: float, cy: float, size: float, colour: str,
           width: int, turns: float) -> None:
    """One qoshqar müiz motif: a stem and two spirals curling outwards, mirrored."""
    draw.line([(cx, cy + size * 0.9), (cx, cy - size * 0.1)], fill=colour, width=width)
    for direction in (-1, 1):
        centre = (cx + direction * size * 0.5, cy - size * 0.1)
        start = 0 if direction == -1 else math.pi
        points = _spiral(*centre, size * 0.5, turns, start, -direction)
        draw.line(points, fill=colour, width=width, joint="curve")


def _qoshqar_muiz(draw, ground, figure, accent, n):
    rows = 3 + n[0] % 2
    cell = SIZE / rows
    turns = 1.2 + (n[1] % 4) * 0.15
    for row in range(rows):
        for col in range(rows):
            cx, cy = (col + 0.5) * cell, (row + 0.45) * cell
            colour = figure if (row + col) % 2 == 0 else accent
            _horns(draw, cx, cy, cell * 0.42, colour, max(6, int(cell / 16)), turns)
    draw.rectangle([12, 12, SIZE - 13, SIZE - 13], outline=figure, width=10)


def _triangle(draw, cx, cy, half, up, colour, outline=None, width=0):
    top = cy - half if up else cy + half
    base = cy + half * 0.8 if up else cy - half * 0.8
    draw.polygon([(cx, top), (cx - half, base), (cx + half, base)], fill=colour,
                 outline=outline, width=width)


def _tumar(draw, ground, figure, accent, n):
    band = SIZE * 0.18
    for y in (band * 0.5, SIZE - band * 0.5):
        draw.rectangle([0, y - band * 0.3, SIZE, y + band * 0.3], fill=accent)
        count = 6 + n[2] % 4
        for i in range(count):
            cx = (i + 0.5) * SIZE / count
            _triangle(draw, cx, y, band * 0.25, i % 2 == 0, figure)
    cx, cy, half = SIZE / 2, SIZE / 2 + 20, SIZE * (0.28 + (n[3] % 3) * 0.02)
    for level in range(4):
        colour = figure if level % 2 == 0 else accent
        _triangle(draw, cx, cy, half * (1 - level * 0.22), True, colour)
    for side in (-1, 1):  # the pendants hanging from an amulet's base
        for k in range(3):
            x = cx + side * half * (0.3 + k * 0.3)
            draw.line([(x, cy + half * 0.8), (x, cy + half * 1.05)], fill=figure, width=6)
            draw.ellipse([x - 12, cy + half * 1.05 - 4, x + 12, cy + half * 1.05 + 20],
                         fill=accent, outline=figure, width=4)


def _stepped_cross(draw, x0, y0, cell, colour):
    u = cell / 7
    for (a, b, c, d) in ((3, 1, 4, 6), (1, 3, 6, 4), (2, 2, 5, 5)):
        draw.rectangle([x0 + a * u, y0 + b * u, x0 + c * u, y0 + d * u], fill=colour)


def _syrmaq(draw, ground, figure, accent, n):
    border = SIZE * 0.09
    draw.rectangle([0, 0, SIZE, SIZE], fill=accent)
    draw.rectangle([border, border, SIZE - border, SIZE - border], fill=ground)
    teeth = 10 + n[4] % 6
    step = SIZE / teeth
    for i in range(teeth):  # the zigzag of the border
        x = i * step
        draw.polygon([(x, border), (x + step / 2, border * 0.35), (x + step, border)],
                     fill=figure)
        draw.polygon([(x, SIZE - border), (x + step / 2, SIZE - border * 0.35),
                      (x + step, SIZE - border)], fill=figure)
    cells = 3 + n[5] % 3
    inner = SIZE - 2 * border
    cell = inner / cells
    for row in range(cells):
        for col in range(cells):
            x0, y0 = border + col * cell, border + row * cell
            if (row + col) % 2:  # mosaic felt: each cell the other's colours
                draw.rectangle([x0, y0, x0 + cell, y0 + cell], fill=figure)
                _stepped_cross(draw, x0, y0, cell, ground)
            else:
                _stepped_cross(draw, x0, y0, cell, figure)


DRAWERS = {"qoshqar_muiz": _qoshqar_muiz, "tumar": _tumar, "syrmaq": _syrmaq}


def ornament_for(craft: str) -> str:
    return CRAFT_ORNAMENTS.get(craft, CRAFT_ORNAMENTS["other"])[0]


def draw_illustration(craft: str, title: str) -> bytes:
    """A square PNG of the craft's ornament, varied by the piece's title."""
    ornament, palettes = CRAFT_ORNAMENTS.get(craft, CRAFT_ORNAMENTS["other"])
    n = _numbers(title)
    ground, figure, accent = palettes[n[6] % len(palettes)]
    image = Image.new("RGB", (SIZE, SIZE), ground)
    DRAWERS[ornament](ImageDraw.Draw(image), ground, figure, accent, n)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def illustration_alt(craft: str, title: dict[str, str]) -> dict[str, str]:
    """Alt text in each language, saying it is an illustration and of what."""
    ornament = NAMES[ornament_for(craft)]
    return {lang: f"{LABEL[lang]}: {ornament[lang]} — {text}"
            for lang, text in title.items() if lang in LABEL and text}
