"""Commands that read drawings: predict (one digit per file) and read (a whole number). Both read
through the library's Reader, so they answer what the API and the page answer."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from digitrec.errors import InputError


def add(commands: Any, shared: dict[str, argparse.ArgumentParser]) -> None:
    predict = commands.add_parser("predict", help="read the digit in image files", parents=[shared["model"]])
    predict.add_argument("images", nargs="+", metavar="IMAGE", help="PNG, JPEG, WebP, BMP or GIF files")
    predict.add_argument("--json", action="store_true", help="one JSON object per image")
    predict.set_defaults(handler=cmd_predict)
    read = commands.add_parser("read", help="read the whole number in image files", parents=[shared["model"]])
    read.add_argument("images", nargs="+", metavar="IMAGE", help="PNG, JPEG, WebP, BMP or GIF files")
    read.add_argument("--json", action="store_true", help="one JSON object per image")
    read.set_defaults(handler=cmd_read)


def each_file(names: list[str], read: Callable[[bytes], Any]) -> Iterator[tuple[str, Any]]:
    """Each file read, or its error said on stderr in one line (the others are still read)."""
    for name in names:
        try:
            yield name, read(Path(name).read_bytes())
        except OSError as exc:
            print(f"{name}: cannot read ({exc.strerror})", file=sys.stderr)
            yield name, None
        except InputError as exc:
            print(f"{name}: {exc}", file=sys.stderr)
            yield name, None


def cmd_predict(args: argparse.Namespace) -> int:
    from digitrec.reading.reader import Reader

    reader = Reader(args.model)
    failures = 0
    for name, reading in each_file(args.images, reader.digit):
        if reading is None:
            failures += 1
        elif args.json:
            print(json.dumps({"file": name, **reading.as_dict()}))
        else:
            print(f"{name}: {digit_text(reading)}")
    return 1 if failures else 0


def cmd_read(args: argparse.Namespace) -> int:
    from digitrec.reading.reader import Reader

    reader = Reader(args.model)
    failures = 0
    for name, number in each_file(args.images, reader.number):
        if number is None:
            failures += 1
        elif args.json:
            digits = [{**d.reading.as_dict(), "box": list(d.box)} for d in number.digits]
            print(json.dumps({"file": name, "text": number.text, "digits": digits, "left_out": len(number.left_out)}))
        else:
            unsure = sum(d.reading.uncertain for d in number.digits)
            said = f" (not sure of {unsure} digit{'s' if unsure > 1 else ''})" if unsure else ""
            print(f"{name}: {number.text or 'no digits'}{said}")
    return 1 if failures else 0


def digit_text(reading: Any) -> str:
    """The verdict as the page says it: "7 (97.3% sure)", "not sure: 3 or 5?", "not a digit"."""
    if reading.verdict == "not a digit":
        return f"not a digit ({reading.message})"
    if reading.verdict == "not sure":
        return str(reading.message)
    return f"{reading.digit} ({reading.message})"
