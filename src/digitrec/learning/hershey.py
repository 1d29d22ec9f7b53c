"""More kinds of non-digits to learn from: the Hershey vector fonts' glyphs, drawn as pen strokes.

The Hershey fonts (A. V. Hershey, 1967, public domain; read through the `Hershey-Fonts` package,
MIT) are single-stroke vector glyphs, the nearest thing to a pen path that a font has: printed and
cursive Latin letters, Greek, Cyrillic, and several hundred symbols (mathematics, astronomy,
weather, map markers). Each glyph becomes strokes in a unit box and goes down the same road as the
generated kinds (`nondigits.kind_drawing`: a hand's wobble, slant, rotation, a pen, the canvas).

Picked by eye from contact sheets of every font, glyph by glyph, under the rules that
`nondigits.py` states: left out are the digits; what a person could still read as a digit (circles,
bars, hooks, a 2-like zeta, a 3-like Cyrillic Ze, a 4-like Che, a 6-like be, a 9-like a, S shapes,
parentheses); and everything the held-out kinds measure (T ? Y P d % $ L J u and up or down arrows,
in every alphabet that has a letter of that shape: Greek Tau, Rho, Upsilon; Cyrillic Te, Er, U),
so that those stay unseen. Japanese is left out too: Omniglot's katakana is one of the alphabets
measured by leaving it out.
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
KINDS = {
    "hershey-letters": ("futural", "rowmans", "timesi", "scripts", "cursive"),
    "hershey-greek-cyrillic": ("greek", "cyrillic"),
    "hershey-symbols": ("symbolic", "mathlow", "meteorology", "astrology"),
}


@cache
def glyphs(font: str) -> tuple[tuple[np.ndarray, ...], ...]:
    """The taught glyphs of one font, each its strokes in a unit box (its longer side 1), y down."""
    try:
        from HersheyFonts import HersheyFonts
    except ImportError as error:  # a training-only dependency
        raise DataError("the Hershey glyphs need the training extras: pip install 'digitrec[train]'") from error
    reader = HersheyFonts()
    reader.load_default_font(font)
    out = []
    for key in TAUGHT[font]:
        strokes = [np.asarray(s, np.float32) for s in reader.strokes_for_text(key) if len(s)]
        points = np.concatenate(strokes)
        low, high = points.min(axis=0), points.max(axis=0)
        scale = 1.0 / max(float((high - low).max()), 1e-6)
        out.append(tuple((s - low) * scale for s in strokes))
    return tuple(out)


def _densify(stroke: np.ndarray, step: float = 0.03) -> np.ndarray:
    """Points every `step` along a polyline, so that a hand's wobble bends long straight segments."""
    if len(stroke) < 2:
        return stroke
    lengths = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(stroke, axis=0), axis=1))]
    at = np.linspace(0.0, lengths[-1], max(2, int(lengths[-1] / step) + 1))
    return np.stack([np.interp(at, lengths, stroke[:, 0]), np.interp(at, lengths, stroke[:, 1])], 1).astype(np.float32)


def font_kind(fonts: tuple[str, ...]) -> Callable[[np.random.Generator], Strokes]:
    """A kind drawing one taught glyph of these fonts at a time, each glyph as likely as another."""

    pool: list[tuple[np.ndarray, ...]] = []  # filled at the first drawing: the fonts load lazily

    def draw(rng: np.random.Generator) -> Strokes:
        if not pool:
            pool.extend(glyph for font in fonts for glyph in glyphs(font))
        glyph = pool[int(rng.integers(len(pool)))]
        return [_densify(s) + rng.normal(0, 0.01, 2).astype(np.float32) for s in glyph]

    return draw


def hershey_kinds() -> dict[str, Callable[[np.random.Generator], Strokes]]:
    """One kind per family of fonts: letters, Greek and Cyrillic, symbols."""
    return {name: font_kind(fonts) for name, fonts in KINDS.items()}
