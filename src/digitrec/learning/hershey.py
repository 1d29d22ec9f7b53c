"""More kinds of non-digits to learn from: the Hershey vector fonts' glyphs, drawn as pen strokes.

The Hershey fonts (A. V. Hershey, 1967, public domain; read through the `Hershey-Fonts` package,
MIT) are single-stroke vector glyphs, the nearest thing to a pen path that a font has: printed and
cursive Latin letters, Greek, Cyrillic, and several hundred symbols (mathematics, astronomy,
weather, map markers). Each glyph becomes strokes in a unit box and goes down the same road as the
generated kinds (`nondigits.kind_drawing`: a hand's wobble, slant, rotation, a pen, the canvas).

Picked by eye from contact sheets of every font, glyph by glyph, under the rules that
`nondigits.py` states: left out are the digits; what a person could still read as a digit (circles,
bars, hooks, a 2-like zeta, a 3-like Cyrillic Ze, a 4-like Che, a 6-like be, a 9-like a, S shapes,
parentheses). Japanese is left out too: Omniglot's katakana is one of the alphabets measured by
leaving it out.

The shapes that the held-out kinds measure (T ? Y P d % $ L J u, arrows; `nondigits.HELD_OUT_KINDS`)
are a family of their own, `SHAPES`: the fonts' printed and cursive T Y P d L J u ? % $ and t p U,
and an arrow turned eight ways. People write these shapes to the page, so the shipped cnn learns
them; the model that measures the held-out kinds is made without them (`digitrec data nondigits
--leave-out shapes`), as each Omniglot alphabet is measured by a model made without it. The
other families keep out every letter of those shapes, in any alphabet (Greek Tau, Rho, Upsilon;
Cyrillic Te, Er, U), so that leaving `SHAPES` out leaves them all out.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np

from digitrec.errors import DataError
from digitrec.learning.drawings import Strokes

# font name -> the glyphs (by the ASCII key the font files them under) that are taught.
LATIN_PRINTED = "ACEFHKMNRVWXcefhkmnrvwx!#&*+<=>@~"  # not ^: rowmans draws it as an up arrow
LATIN_CURSIVE = "ACEHKMNRVWXcehkmnrvwx"
TAUGHT: dict[str, str] = {
    "futural": LATIN_PRINTED,
    "rowmans": LATIN_PRINTED,
    "timesi": LATIN_PRINTED,
    "scripts": LATIN_CURSIVE,
    "cursive": LATIN_CURSIVE,
    # Alpha Chi Delta Epsilon Phi Gamma Eta Kappa Lambda Mu Nu Pi Sigma Omega Xi Psi, and lower case
    # alpha chi epsilon phi eta times kappa lambda mu nu pi omega psi.
    "greek": "ACDEFGHKLMNPSWXYacefhjklmnpwy",
    # De I Ef Ge Zhe Ka El Em En Pe Sha Es Yu Shcha Kha Ye Hard-sign Ya Tse Yery, and lower case.
    "cyrillic": "ADEFGHKLMNPQSUWX[]^`$&defghiklmnpqsuwx{|}",
    # Shapes, stars, crosses, loops, flags, an anchor, a bell, trees, card suits, ligatures.
    "symbolic": "<=>?@ADEFGIJKLMNOQRSTUWXYZ[]^_`abcdfghlmnopuwxyz{|~",
    # +- -+ x box <= >= * + < = > != == proportional infinity roots subset cap supset element-of,
    # right and left arrows, nabla, exists, aleph, divide, angle.
    "mathlow": "!\"#$&'*+<=>?@^_bcdfghiknovwx|",
    "meteorology": "\"#$&'()*+;_`|",
    "astrology": "!$%'+-:<=>?@[]_`{|}~",
}
# The held-out kinds' shapes as the Latin fonts draw them (y, a 4 or a 9, stays out), and the
# fonts whose ^ is an up arrow, turned to each of eight directions.
SHAPES_TAUGHT = "TYPdLJu?%$tpU"
SHAPES_FONTS = ("futural", "rowmans", "timesi", "scripts", "cursive")
ARROW_FONTS = ("rowmans", "scripts")
ARROW_TURNS = 8
KINDS = {
    "hershey-letters": ("futural", "rowmans", "timesi", "scripts", "cursive"),
    "hershey-greek-cyrillic": ("greek", "cyrillic"),
    "hershey-symbols": ("symbolic", "mathlow", "meteorology", "astrology"),
}


@cache
def glyphs(font: str, keys: str | None = None) -> tuple[tuple[np.ndarray, ...], ...]:
    """The taught glyphs of one font (or those of `keys`), each its strokes in a unit box (its
    longer side 1), y down."""
    try:
        from HersheyFonts import HersheyFonts
    except ImportError as error:  # a training-only dependency
        raise DataError("the Hershey glyphs need the training extras: pip install 'digitrec[train]'") from error
    reader = HersheyFonts()
    reader.load_default_font(font)
    out = []
    for key in TAUGHT[font] if keys is None else keys:
        strokes = [np.asarray(s, np.float32) for s in reader.strokes_for_text(key) if len(s)]
        out.append(_unit_box(strokes))
    return tuple(out)


def _unit_box(strokes: list[np.ndarray]) -> tuple[np.ndarray, ...]:
    points = np.concatenate(strokes)
    low, high = points.min(axis=0), points.max(axis=0)
    scale = 1.0 / max(float((high - low).max()), 1e-6)
    return tuple(((s - low) * scale).astype(np.float32) for s in strokes)


def _turned(glyph: tuple[np.ndarray, ...], turn: float) -> tuple[np.ndarray, ...]:
    c, s = np.cos(turn), np.sin(turn)
    return _unit_box([g @ np.array([[c, s], [-s, c]], np.float32) for g in glyph])


@cache
def shape_glyphs() -> tuple[tuple[np.ndarray, ...], ...]:
    """`SHAPES`: the held-out kinds' shapes in the fonts, and their up arrows turned 8 ways."""
    letters = [glyph for font in SHAPES_FONTS for glyph in glyphs(font, SHAPES_TAUGHT)]
    arrows = [
        _turned(glyphs(font, "^")[0], 2 * np.pi * k / ARROW_TURNS) for font in ARROW_FONTS for k in range(ARROW_TURNS)
    ]
    return tuple(letters + arrows)


def _densify(stroke: np.ndarray, step: float = 0.03) -> np.ndarray:
    """Points every `step` along a polyline, so that a hand's wobble bends long straight segments."""
    if len(stroke) < 2:
        return stroke
    lengths = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(stroke, axis=0), axis=1))]
    at = np.linspace(0.0, lengths[-1], max(2, int(lengths[-1] / step) + 1))
    return np.stack([np.interp(at, lengths, stroke[:, 0]), np.interp(at, lengths, stroke[:, 1])], 1).astype(np.float32)


def font_kind(fonts: tuple[str, ...]) -> Callable[[np.random.Generator], Strokes]:
    """A kind drawing one taught glyph of these fonts at a time, each glyph as likely as another."""
    return glyph_pool_kind(lambda: [glyph for font in fonts for glyph in glyphs(font)])


def glyph_pool_kind(load: Callable[[], list[tuple[np.ndarray, ...]]]) -> Callable[[np.random.Generator], Strokes]:
    """A kind drawing one of `load()`'s glyphs at a time, each as likely as another."""
    pool: list[tuple[np.ndarray, ...]] = []  # filled at the first drawing: the fonts load lazily

    def draw(rng: np.random.Generator) -> Strokes:
        if not pool:
            pool.extend(load())
        glyph = pool[int(rng.integers(len(pool)))]
        return [_densify(s) + rng.normal(0, 0.01, 2).astype(np.float32) for s in glyph]

    return draw


def hershey_kinds() -> dict[str, Callable[[np.random.Generator], Strokes]]:
    """One kind per family of fonts: letters, Greek and Cyrillic, symbols."""
    return {name: font_kind(fonts) for name, fonts in KINDS.items()}


def shapes_kind() -> Callable[[np.random.Generator], Strokes]:
    """The held-out kinds' shapes as the fonts draw them (`SHAPES`), one family of their own."""
    return glyph_pool_kind(lambda: list(shape_glyphs()))
