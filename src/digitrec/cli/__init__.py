"""The `digitrec` command. Thin: each command checks what it was given, calls one library
function, and prints; errors become one line on stderr and exit code 1, never a traceback."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from digitrec import __version__
from digitrec.cli import data, models, reading, serving
from digitrec.cli.common import Parser, one_line, parents
from digitrec.errors import DigitrecError

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="digitrec", description="Handwritten digit recognition.")
    parser.add_argument("--version", action="version", version=f"digitrec {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    shared = parents()
    for group in (models, reading, data, serving):
        group.add(commands, shared)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except DigitrecError as exc:
        print(f"digitrec: error: {one_line(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("digitrec: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`digitrec ... | head`): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:  # disk full, permission denied: the user can fix these too
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"digitrec: error: {where}{one_line(exc.strerror or str(exc))}", file=sys.stderr)
        return 1
