"""digitrec: handwritten digit recognition, from MNIST files to a web page that reads your drawing."""

__version__ = "0.1.0"
