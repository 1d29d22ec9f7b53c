"""digitrec: handwritten digit recognition. The public API is what reads a drawing:

    from digitrec import Reader, Strokes
    reading = Reader("cnn").digit(Strokes([[(40, 30), (40, 250)]], width=280, height=280))

Everything else is internal and may change.
"""

__version__ = "0.1.0"  # first: modules imported below read it

from digitrec.errors import (
    DataError,
    DigitrecError,
    EmptyDrawingError,
    InputError,
    ModelError,
    TooLargeError,
    UnsupportedFormatError,
)
from digitrec.reading.decode import Budget
from digitrec.reading.inference import DigitReading
from digitrec.reading.numbers import NumberReading
from digitrec.reading.reader import Drawing, Reader, Strokes

__all__ = [
    "Budget",
    "DataError",
    "DigitReading",
    "DigitrecError",
    "Drawing",
    "EmptyDrawingError",
    "InputError",
    "ModelError",
    "NumberReading",
    "Reader",
    "Strokes",
    "TooLargeError",
    "UnsupportedFormatError",
    "__version__",
]
