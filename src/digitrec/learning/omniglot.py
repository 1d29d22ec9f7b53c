"""Omniglot's pen strokes: real people's drawings of characters from four writing systems, none of
them a digit, read straight from `strokes.tar.gz` (no unpacking).

B. M. Lake, R. Salakhutdinov, J. B. Tenenbaum, "Human-level concept learning through
probabilistic program induction", Science 350 (2015); MIT licence (the data folder's LICENSE).
Each file is `<Alphabet>/characterNN/<image>_<drawer>.txt`: START, then `x,y,t` lines with y
growing upwards, and BREAK between strokes.
"""

from __future__ import annotations

import json
import os
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digitrec.errors import DataError
from digitrec.learning.data import resolve_data_dir, sha256_of

ARCHIVE = "strokes.tar.gz"
ARCHIVE_SHA256 = "47cdcbaca54c5e4c4595a25e22385bc28e382f73b44eaa4eb13fdefea7a6d090"
ALPHABETS = ("Balinese", "Japanese_(katakana)", "Korean", "Sanskrit")

MANIFEST = "manifest.json"  # beside `digitrec data nondigits` images: which alphabets they hold
# ... and whether they hold the fonts' drawings of the held-out kinds' shapes (`nondigits.SHAPES`).
SHAPES_KEY = "learned_held_out_shapes"


def omniglot_alphabets(folders: list[Path], before: list[str]) -> list[str]:
    """The Omniglot alphabets the model has now seen: its own, and those of `digitrec data
    nondigits` folders among the extra data (their manifest.json), so that evaluation knows
    which alphabets it never saw."""
    seen = set(before)
    for folder in folders:
        manifest = Path(folder) / MANIFEST
        if manifest.is_file():
            seen.update(json.loads(manifest.read_text()).get("omniglot_alphabets", []))
    return sorted(seen)


def learned_held_out_shapes(folders: list[Path], before: bool) -> bool:
    """Whether the model has now learned the fonts' held-out shapes: it had, or a `digitrec data
    nondigits` folder among the extra data holds them, so that evaluation knows whether the
    held-out kinds' shapes are unseen."""
    manifests = [Path(folder) / MANIFEST for folder in folders]
    return before or any(bool(json.loads(m.read_text()).get(SHAPES_KEY)) for m in manifests if m.is_file())


def card_learned_shapes(card: object) -> bool:
    """Whether a model learned the fonts' drawings of the held-out kinds' shapes (its model.json)."""
    return bool(getattr(card, SHAPES_KEY, False))


# Characters a person could read as a digit (a circle is a 0, a bar a 1, a hook a 7): neither
# taught as "not a digit" nor counted against the model when it reads them as one. The data's
# README lists these from one drawing each; we looked at ten drawers of each, rendered as the model
# sees them, agreed with every one, and added katakana 46 (a 7 with the crossbar many Europeans
# write). What each resembles:
LOOKALIKES: dict[str, dict[int, str]] = {
    "Balinese": {5: "a 7 with a curl", 14: "a reversed C, a 3 or a 2"},
    "Korean": {
        5: "a 4 without its top",
        21: "a 1 (a bar)",
        22: "a 7 (a hook)",
        27: "a 2 or a 5",
        33: "a 0",
        37: "a 7 with a bar, or a 3",
    },
    "Sanskrit": {
        5: "a 3 or a 5 with a dot",
        12: "a 6 or a 0 with a bar",
        13: "a 3 or a 5",
        14: "a 6",
        18: "a 2 or a 5",
        36: "a 3 or a 5",
        37: "a 3",
    },
    "Japanese_(katakana)": {
        1: "a 7",
        8: "a 7 or a 4",
        13: "a t, or a 7 with a bar",
        24: "a 1 (a slanted bar)",
        27: "a 7 (a hook)",
        32: "a 4 or a 2",
        37: "a 3",
        38: "a 7 or a 5",
        43: "a 7",
        46: "a 7 with a crossbar",
    },
}
_NAME = re.compile(r"^(?P<alphabet>[^/]+)/character(?P<character>\d+)/(?P<image>\d+)_(?P<drawer>\d+)\.txt$")


@dataclass(frozen=True)
class OmniglotDrawing:
    alphabet: str
    character: int  # 1-based, as in the folder names
    drawer: int  # 1-20
    strokes: tuple[np.ndarray, ...]  # (n, 2) float32 points, y down (screen coordinates)

    @property
    def lookalike(self) -> bool:
        return self.character in LOOKALIKES.get(self.alphabet, {})


def resolve_omniglot_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """`explicit`, else $DIGITREC_OMNIGLOT_DIR, else the `omniglot` folder beside MNIST's."""
    chosen = explicit or os.environ.get("DIGITREC_OMNIGLOT_DIR")
    return Path(chosen) if chosen else resolve_data_dir().parent / "omniglot"


def parse_strokes(text: str) -> tuple[np.ndarray, ...]:
    """One drawing's file -> its strokes, y negated so that it grows downwards as on a page."""
    strokes: list[np.ndarray] = []
    points: list[tuple[float, float]] = []
    for line in text.splitlines():
        line = line.strip()
        if line in ("START", "BREAK"):
            if points:
                strokes.append(np.array(points, dtype=np.float32))
            points = []
        elif line:
            x, y, _ = line.split(",")
            points.append((float(x), -float(y)))
    if points:
        strokes.append(np.array(points, dtype=np.float32))
    return tuple(strokes)


def load_omniglot(directory: str | os.PathLike[str] | None = None, verify: bool = True) -> list[OmniglotDrawing]:
    """Every drawing of the archive, sorted by alphabet, character and drawer."""
    path = resolve_omniglot_dir(directory) / ARCHIVE
    if not path.is_file():
        raise DataError(f"no Omniglot strokes at {path}: set DIGITREC_OMNIGLOT_DIR to the folder holding {ARCHIVE}")
    if verify and sha256_of(path) != ARCHIVE_SHA256:
        raise DataError(f"{path} has an unexpected SHA-256: replace it with the published archive")
    drawings = []
    with tarfile.open(path, "r:gz") as archive:
        for member in archive:
            found = _NAME.match(member.name)
            if not member.isfile() or not found:
                continue
            handle = archive.extractfile(member)
            assert handle is not None  # a regular file always has its bytes
            strokes = parse_strokes(handle.read().decode("ascii"))
            if strokes:
                drawings.append(
                    OmniglotDrawing(found["alphabet"], int(found["character"]), int(found["drawer"]), strokes)
                )
    return sorted(drawings, key=lambda d: (d.alphabet, d.character, d.drawer))
