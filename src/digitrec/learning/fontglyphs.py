"""Non-digits of many writing systems: the glyphs of the outline fonts that matplotlib ships.

The Hershey fonts (`hershey.py`) give a few hundred glyphs picked by eye. matplotlib's DejaVu and
STIX fonts (the training extras already need matplotlib; Bitstream Vera / DejaVu and SIL OFL
licences, `mpl-data/fonts/ttf/LICENSE_*`) draw about 1,600 characters that pass the rules below:
Latin, Greek and Cyrillic letters, Armenian, Georgian, Hebrew, Arabic, Tifinagh, N'Ko, and the
symbols of mathematics, currency, games, weather and maps. "Not a digit" learned from far more
kinds of character than it is measured on is "not one of the ten", not "one of these"
(docs/models.md measures it on the held-out kinds and alphabets). An option of `digitrec data
nondigits --fonts N`, not of the recipe: in the one recipe run with them, the separation rose but
the share flagged at the calibrated threshold did not (docs/models.md).

Each glyph is drawn filled, at a random size and weight, slanted, turned and stretched as a hand
varies them, and read through the picture road (`preprocess`), as a page sends a picture.

Left out, so that none of it is a digit, a digit's lookalike, or a measured shape:
- by Unicode: digits and numerals of every script, letters whose base is a digit's lookalike or
  one of the held-out kinds' shapes (O, l, S, Z, B, b, G, g, q, a; T, Y, P, d, L, J, u, in any
  alphabet, with any accent), arrows, question marks, percent and dollar signs (and c/o, a/c, a/s,
  drawn as a %), bars, circles, brackets, dots and lines; the scripts of the Omniglot alphabets
  that are measured by leaving them out (Balinese, kana, Hangul, Devanagari), and the CJK blocks
  kana comes from; Canadian syllabics (its shapes are u, J, L and P turned four ways);
- by look: a glyph whose picture is near a person's digit (its nearest of 20,000 MNIST training
  digits) or near the fonts' own drawings of the held-out shapes (T Y P d L J u ? % $ t p U and
  arrows), by the correlation of their 28x28 inputs (`MNIST_LIKE`, `SHAPE_LIKE`: chosen on
  contact sheets of the glyphs around each threshold).
"""

from __future__ import annotations

import math
import re
import unicodedata
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from digitrec.errors import DataError, EmptyDrawingError
from digitrec.learning.data import load_split, resolve_data_dir
from digitrec.reading.preprocess import mnist_to_input, preprocess

FONTS = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSans-Oblique.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Italic.ttf",
    "STIXGeneral.ttf",
    "STIXGeneralItalic.ttf",
    "STIXGeneralBol.ttf",
)
# Code point ranges left out: Devanagari, Hangul, Balinese, kana and the CJK blocks (Omniglot's
# measured alphabets and their kin); Canadian syllabics, whose every family turns one shape four
# ways (u n > <, J, L, P: the held-out kinds' shapes, only turned); arrows, box drawing, shapes and
# blocks, braille, private use, mathematical alphanumerics (more Latin letters), presentation
# forms, circled numbers, emoji.
SKIPPED = (
    (0x0900, 0x097F),
    (0x1100, 0x11FF),
    (0x1B00, 0x1B7F),
    (0x1400, 0x167F),
    (0x18B0, 0x18FF),
    (0x1CD0, 0x1CFF),
    (0x2190, 0x21FF),
    (0x2460, 0x24FF),
    (0x2500, 0x25FF),
    (0x27F0, 0x27FF),
    (0x2800, 0x297F),
    (0x2B00, 0x2BFF),
    (0x2E80, 0x9FFF),
    (0xA8E0, 0xA8FF),
    (0xA960, 0xA97F),
    (0xAC00, 0xD7FF),
    (0xE000, 0xF8FF),
    (0xFB00, 0xFFFF),
    (0x1D400, 0x1D7FF),
    (0x1F000, 0x1FFFF),
)
# Words of a character's Unicode name that leave it out: held-out shapes and digits' lookalikes.
SKIPPED_WORDS = (
    "ARROW", "HARPOON", "DIGIT", "NUMBER", "FRACTION", "ROMAN", "QUESTION", "PERCENT", "PER MILLE",
    "DOLLAR", "TAU", "RHO", "UPSILON", "OMICRON", "IOTA", "ZETA", "MU", "GAMMA", "SIGMA", "XI",
    "BETA", "THETA", "DELTA", "LETTER TE", "LETTER ER", "LETTER U", "LETTER SHORT U", "LETTER ZE",
    "LETTER CHE", "LETTER BE", "LETTER O", "LETTER DZE", "LETTER JE", "BYELORUSSIAN", "VAV",
    "FINAL NUN", "ALEF", "TURNED", "REVERSED", "SUPERSCRIPT", "SUBSCRIPT", "MODIFIER", "COMBINING",
    "PARENTHESIS", "BRACKET", "VERTICAL", "SOLIDUS", "CIRCLE", "DOT", "LINE", "DASH", "HYPHEN",
    "SPACE", "BOX", "BLOCK", "SQUARE", "TWO", "THREE", "FIVE", "SIX", "YOGH", "EZH", "TONE",
    "ETH", "SCHWA", "GLOTTAL", "CARE OF", "ACCOUNT OF", "ADDRESSED",
)  # fmt: skip
# Latin base letters left out: digits' lookalikes (O o I i l S s Z z B b G g q Q a A D) and the
# held-out kinds' letters (T t Y y P p d L J j U u).
SKIPPED_BASES = frozenset("TtYyPpDdLlJjUuOoIiSsZzBbGgqQaA0123456789")
HELD_OUT_SHAPES = "TYPdLJu?%$tpU\u2191\u2193\u2190\u2192\u2197\u2198\u2196\u2199"
MNIST_LIKE = 0.75  # a glyph this near (or nearer) a person's digit may read as that digit
SHAPE_LIKE = 0.65  # ... or this near a font's held-out shape, which the measured model never sees
MNIST_REFERENCES = 20000
RENDER_SIZE = 96
COUNT = 4000  # drawings docs/models.md's experiment added to a training set (`--fonts`)


def wanted(codepoint: int) -> bool:
    """Whether a character passes the Unicode rules above (its look is judged after)."""
    char = chr(codepoint)
    name = unicodedata.name(char, "")
    if unicodedata.category(char)[0] not in "LPS" or not name:
        return False
    if any(low <= codepoint <= high for low, high in SKIPPED) or any(word in name for word in SKIPPED_WORDS):
        return False
    letter = re.search(r"LETTER (?:SMALL |CAPITAL )*(?:LETTER )?([A-Z])(?: |$)", name)
    base = unicodedata.normalize("NFKD", char)[:1]
    return base not in SKIPPED_BASES and not (letter and letter.group(1) in SKIPPED_BASES)


def _font_folder() -> Path:
    try:
        import matplotlib
    except ImportError as error:  # a training-only dependency
        raise DataError("the fonts' glyphs need the training extras: pip install 'digitrec[train]'") from error
    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


@cache
def _font(name: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(_font_folder() / name), size)


def glyph_picture(font: str, char: str, size: int = RENDER_SIZE, weight: int = 0) -> Image.Image:
    """One glyph drawn white on black, `weight` pixels of outline added, room to turn around it."""
    picture = Image.new("L", (size * 3, size * 3), 0)
    draw = ImageDraw.Draw(picture)
    draw.text((size, size), char, fill=255, font=_font(font, size), stroke_width=weight, stroke_fill=255)
    return picture


@cache
def _code_points(font: str) -> tuple[int, ...]:
    """Every character the font draws (its cmap), in order."""
    from fontTools.ttLib import TTFont  # matplotlib's own dependency

    return tuple(sorted(TTFont(str(_font_folder() / font)).getBestCmap()))


def _characters(font: str) -> list[str]:
    return [chr(c) for c in _code_points(font) if wanted(c)]


def _plain_input(font: str, char: str) -> np.ndarray | None:
    """The glyph's 28x28 input, upright and plain; None for one too small or too thin to judge
    (a dot, a dash): those say nothing a stroke of the other kinds does not."""
    picture = glyph_picture(font, char)
    box = picture.getbbox()
    if box is None:
        return None
    width, height = box[2] - box[0], box[3] - box[1]
    if max(width, height) < 0.3 * RENDER_SIZE or min(width, height) < 0.2 * max(width, height):
        return None
    return preprocess(np.asarray(picture))


def _centred_unit(rows: np.ndarray) -> np.ndarray:
    rows = rows.reshape(len(rows), -1).astype(np.float32)
    rows = rows - rows.mean(axis=1, keepdims=True)
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-6)


def nearest(inputs: np.ndarray, references: np.ndarray) -> np.ndarray:
    """Each input's correlation with its nearest reference (28x28 inputs, both)."""
    return (_centred_unit(inputs) @ _centred_unit(references).T).max(axis=1)


def held_out_shape_inputs() -> np.ndarray:
    """The fonts' drawings of the held-out kinds' shapes, as inputs: what no taught glyph may be near."""
    shapes = []
    for font in FONTS:
        present = set(_code_points(font))
        shapes += [_plain_input(font, char) for char in HELD_OUT_SHAPES if ord(char) in present]
    return np.stack([s for s in shapes if s is not None])


@cache
def catalogue(data_dir: Path | None = None) -> list[tuple[str, str]]:
    """(font, character) of every glyph taught: the Unicode rules, then the look (the module's
    docstring). The same on every machine with the same matplotlib (its fonts ship in it)."""
    glyphs, inputs = [], []
    for font in FONTS:
        for char in _characters(font):
            plain = _plain_input(font, char)
            if plain is not None:
                glyphs.append((font, char))
                inputs.append(plain)
    stacked = np.stack(inputs)
    images, _ = load_split(resolve_data_dir(data_dir), "train")
    digit_like = nearest(stacked, mnist_to_input(images[:MNIST_REFERENCES]))
    shape_like = nearest(stacked, held_out_shape_inputs())
    return [g for g, d, s in zip(glyphs, digit_like, shape_like, strict=True) if d < MNIST_LIKE and s < SHAPE_LIKE]


def _varied(picture: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Slanted, turned and stretched as a hand varies a character (as `drawings._warp`), about
    the picture's centre; a bold glyph sometimes thinned."""
    angle, shear = math.radians(rng.uniform(-12, 12)), rng.uniform(-0.2, 0.2)
    aspect = math.exp(rng.uniform(-0.15, 0.15))
    a, b, d, e = math.cos(angle) * aspect, -math.sin(angle) + shear, math.sin(angle) * aspect, math.cos(angle)
    det = a * e - b * d
    inverse = (e / det, -b / det, -d / det, a / det)  # PIL maps output pixels back to input ones
    centre = picture.size[0] / 2
    x0 = centre - inverse[0] * centre - inverse[1] * centre
    y0 = centre - inverse[2] * centre - inverse[3] * centre
    matrix = (inverse[0], inverse[1], x0, inverse[2], inverse[3], y0)
    varied = picture.transform(picture.size, Image.Transform.AFFINE, matrix, Image.Resampling.BILINEAR)
    return varied.filter(ImageFilter.MinFilter(3)) if rng.random() < 0.2 and picture.size[0] > 210 else varied


def font_glyph_images(count: int, seed: int, data_dir: Path | None = None) -> np.ndarray:
    """uint8 (count, 28, 28) inputs of the catalogue's glyphs, each glyph as likely as another,
    at 40-119 px with 0 to size/25 px of added weight, varied by `_varied`."""
    pool = catalogue(data_dir)
    rng = np.random.default_rng(seed)
    images = np.zeros((count, 28, 28), np.uint8)
    made = 0
    while made < count:
        font, char = pool[int(rng.integers(len(pool)))]
        size = int(rng.integers(40, 120))
        picture = _varied(glyph_picture(font, char, size, int(rng.integers(0, size // 25 + 1))), rng)
        try:
            images[made] = np.round(preprocess(np.asarray(picture)) * 255)
        except EmptyDrawingError:  # thinned away: draw another
            continue
        made += 1
    return images
