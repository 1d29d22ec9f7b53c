"""What every command shares: the parser, flags written once, and the checks made before any
work starts. Every mistake a user can make (a path that exists or does not, a busy port, an
unreachable database, an unknown model, a bad flag) is found here and raised as one line."""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from digitrec.errors import DigitrecError
from digitrec.reading.card import METADATA_FILE, WEIGHTS_FILE, resolve_model

if TYPE_CHECKING:
    from digitrec.store.feedback import Store

# Below this, fine-tuning costs minutes and measures nothing: a held-out fifth of 10 drawings is
# 2 drawings, and 2 corrections moved MNIST accuracy down, not up.
MIN_CORRECTIONS = 20
# The same file name as `digitrec.learning.train` (which needs torch to import).
RESUME_FILE = "resume.pt"


def fail(message: str) -> NoReturn:
    raise DigitrecError(message)


class Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line and exit 1 like any other mistake (argparse prints its
    usage and exits 2)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Subcommands are made by the parser's class, so they get the formatter too.
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(1, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


class HelpFormatter(argparse.HelpFormatter):
    """Each default stated once: added as "(default: X)" unless the help says it in its own words;
    nothing for switches that are off and values that are unset."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        unset = default is None or default is False or default == [] or default == argparse.SUPPRESS
        if "default" in text or unset or not action.option_strings:
            return text
        return text + " (default: %(default)s)"


def positive(kind: type[int] | type[float]) -> Callable[[str], int | float]:
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {'whole ' if kind is int else ''}number") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be above 0, not {text}")
        return value

    return parse


def share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be from 0 up to (not including) 1")
    return value


def parents() -> dict[str, argparse.ArgumentParser]:
    """Flags that several commands share, each written (and its default stated) once."""
    made: dict[str, argparse.ArgumentParser] = {
        name: Parser(add_help=False) for name in ("data", "model", "db", "seed", "force")
    }
    made["data"].add_argument(
        "--data-dir", metavar="DIR", help="MNIST folder (default: $DIGITREC_DATA_DIR, else the user cache)"
    )
    made["model"].add_argument(
        "--model",
        default="cnn",
        help="shipped model name, checkpoint folder, or an exported .onnx file with its model.json beside it",
    )
    made["db"].add_argument(
        "--db",
        metavar="URL|FILE",
        help="where corrections are stored: a database URL or a SQLite file "
        "(default: $DIGITREC_DATABASE_URL, else a SQLite file in the user data folder)",
    )
    made["seed"].add_argument("--seed", type=int, default=0, help="random seed")
    made["force"].add_argument(
        "--force", action="store_true", help="replace a model already in --out (refused without it)"
    )
    return made


def check_new_file(path: Path, flag: str) -> None:
    """`path` is a file to (over)write: its folder must exist, and it must not be a folder."""
    if path.is_dir():
        fail(f"{flag} {path} is a folder: give a file name, e.g. {path / 'model.onnx'}")
    if not path.parent.is_dir():
        fail(f"{flag} {path}: the folder {path.parent} does not exist (create it first)")


def check_folder_to_write(path: Path, flag: str) -> None:
    if path.exists() and not path.is_dir():
        fail(f"{flag} {path} is a file, not a folder: give a folder name")


def check_checkpoint_out(out: Path, *, force: bool, resume: bool = False) -> None:
    """A trained model is never replaced without --force: `train --dry-run` once overwrote a 99.17%
    cnn with an 11% one."""
    check_folder_to_write(out, "--out")
    finished, interrupted = (out / METADATA_FILE).is_file(), (out / RESUME_FILE).is_file()
    if resume:
        if not interrupted:
            held = "a finished model" if finished else "no interrupted run"
            fail(f"nothing to resume: {out} holds {held} (drop --resume to train anew, with --force to replace it)")
    elif interrupted and not force:
        fail(f"{out} holds an interrupted run: --resume to continue it, --force to start again")
    elif finished and not force:
        fail(f"{out} already holds a trained model: choose another --out, or --force to replace it")


def check_mnist(data_dir: str | None, *splits: str) -> Path:
    """The MNIST files exist and are whole (the test set too, which training measures at its end)."""
    from digitrec.learning.data import FILES, resolve_data_dir, verify_file

    folder = resolve_data_dir(data_dir)
    for split in splits:
        for kind in ("images", "labels"):
            spec = FILES[f"{split}-{kind}"]
            verify_file(folder / spec.name, spec)
    return folder


def count_images(folders: Sequence[str], flag: str) -> int:
    from digitrec.learning.data import load_split

    total = 0
    for folder in map(Path, folders):
        if not folder.is_dir():
            fail(f"{flag} {folder} is not a folder: give one written by `digitrec feedback export`")
        total += len(load_split(folder, "train", verify=False)[1])
    return total


def torch_checkpoint(reference: str, needs: str) -> Path:
    folder = resolve_model(reference)
    if not (folder / WEIGHTS_FILE).is_file():
        fail(f"{folder} has no {WEIGHTS_FILE}: {needs} needs a folder written by `digitrec train`")
    return folder


def import_training(needs: str) -> None:
    try:
        import torch  # noqa: F401
    except ImportError as exc:
        fail(f"{needs} needs PyTorch ({exc.name} is missing): pip install 'digitrec[train]'")


def masked(url: str) -> str:
    """A database URL fit to print: the password replaced by ***."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return re.sub(r"(://[^:/@\s]*:)[^@\s]*@", r"\1***@", url)


def open_store(db: str | None) -> Store:
    from digitrec.store.feedback import open_store

    try:
        return open_store(db)
    except DigitrecError as exc:
        # A driver's message runs over several lines and SQLAlchemy appends a link to its docs;
        # the first line says what happened ("connection refused", "password authentication failed").
        raise DigitrecError(one_line(str(exc).strip().splitlines()[0])) from None


def training_command() -> str:
    """The command line, as recorded in the checkpoint (empty when called from Python)."""
    return shlex.join(["digitrec", *sys.argv[1:]]) if sys.argv[0].endswith(("digitrec", "__main__.py")) else ""


def one_line(message: str) -> str:
    """Messages from deeper down may span lines (database drivers) or carry a URL's password."""
    flat = " ".join(part.strip() for part in message.splitlines() if part.strip())
    return re.sub(r"(://[^:/@\s]*:)[^@\s]*@", r"\1***@", flat)
