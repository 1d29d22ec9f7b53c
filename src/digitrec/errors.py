"""The exception tree of digitrec, in one place.

DigitrecError              anything a user can fix; the CLI prints it on one line, exit 1
+-- DataError              MNIST files missing, truncated, corrupt or not downloadable
+-- ModelError             unknown model name, unreadable checkpoint or ONNX file
+-- StoreUnavailable       the feedback database cannot be reached (the API answers 503)
+-- StoreFull              the feedback store holds its cap of answers (507)
+-- InputError             an image or drawing we cannot read (the API answers 422)
    +-- EmptyDrawingError  readable, but nothing is drawn on it
    +-- TooLargeError      well formed, but over a size limit (the API answers 413)
    +-- UnsupportedFormatError  an image file, but not PNG, JPEG, WebP, BMP or GIF (415)
    +-- TooCostlyError     its decoding went past a hard limit and was killed (422)
"""


class DigitrecError(Exception):
    """Base class: the message is written for the person who has to fix it."""


class DataError(DigitrecError):
    pass


class ModelError(DigitrecError):
    pass


class StoreUnavailable(DigitrecError):
    """The message never holds the database URL or its password: it may reach a client or a log."""


class StoreFull(DigitrecError):
    pass


class InputError(DigitrecError):
    pass


class EmptyDrawingError(InputError):
    pass


class TooLargeError(InputError):
    pass


class UnsupportedFormatError(InputError):
    pass


class TooCostlyError(InputError):
    """The decoder went past a limit of the box (CPU time, memory, wall time) and was killed."""
