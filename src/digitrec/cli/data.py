"""`digitrec data`: get and check the data sets, and make the number reader's pieces."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from digitrec.cli.common import Parser, check_folder_to_write, fail, positive


def add(commands: Any, shared: dict[str, argparse.ArgumentParser]) -> None:
    add_data(commands)


def add_data(commands: Any) -> None:
    data = commands.add_parser("data", help="get or check the data sets (MNIST, pendigits)")
    actions = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    target = Parser(add_help=False)
    target.add_argument(
        "--data-dir", "--dir", dest="data_dir", help="MNIST folder (default: $DIGITREC_DATA_DIR, else the user cache)"
    )
    download = actions.add_parser(
        "download", help="download MNIST from public mirrors, and the pendigits writers from UCI", parents=[target]
    )
    download.add_argument(
        "--pendigits-dir",
        help="where the pendigits file goes (default: $DIGITREC_PENDIGITS_DIR, else beside the MNIST folder)",
    )
    download.add_argument("--no-pendigits", action="store_true", help="MNIST only")
    download.add_argument("--pendigits-url", help="where to fetch the pendigits file (default: UCI's address)")
    download.add_argument("--timeout", type=positive(float), default=30.0, help="seconds to wait for a mirror")
    download.add_argument(
        "--mirror",
        action="append",
        metavar="URL",
        help="a folder URL holding the four MNIST files, tried in the order given (default: the public mirrors)",
    )
    download.set_defaults(handler=cmd_data_download)
    verify = actions.add_parser("verify", help="check the SHA-256 of the MNIST files", parents=[target])
    verify.set_defaults(handler=cmd_data_verify)
    pieces = actions.add_parser(
        "pieces",
        help="the number reader's pieces of numbers written with the training writers' strokes "
        "(fragments and merged pairs as 'not a digit'), as a dataset for --extra-data",
    )
    pieces.add_argument("--out", required=True, metavar="DIR", help="folder to write (gzip IDX, as MNIST's)")
    pieces.add_argument("--numbers", type=positive(int), default=1000, help="numbers to compose and cut")
    pieces.add_argument("--seed", type=int, default=0, help="seed of the numbers composed")
    pieces.add_argument(
        "--pendigits-dir", help="pendigits folder (default: $DIGITREC_PENDIGITS_DIR, else beside the MNIST folder)"
    )
    pieces.set_defaults(handler=cmd_data_pieces)
    add_data_nondigits(actions)


def add_data_nondigits(actions: Any) -> None:
    nondigits = actions.add_parser(
        "nondigits",
        help="people's Omniglot characters and generated non-digits as 'not a digit', beside the training "
        "writers' digits, as a dataset for --extra-data",
    )
    nondigits.add_argument("--out", required=True, metavar="DIR", help="folder to write (gzip IDX, as MNIST's)")
    nondigits.add_argument("--seed", type=int, default=0, help="seed of the renderings")
    leave_out = "an Omniglot alphabet not to include, or 'shapes': the fonts' drawings of the held-out kinds' shapes"
    nondigits.add_argument("--leave-out", action="append", default=[], metavar="ALPHABET", help=leave_out)
    nondigits.add_argument(
        "--scans",
        type=int,
        default=4000,
        metavar="N",
        help="MNIST training digits to add as scans on a page, as themselves (default 4000; 0 for none)",
    )
    nondigits.add_argument(
        "--fonts",
        type=int,
        default=0,
        metavar="N",
        help="also N drawings of outline fonts' glyphs, many writing systems' letters and symbols "
        "(default 0, as the recipe; docs/models.md measured 4000)",
    )
    nondigits.add_argument("--data-dir", help="MNIST folder (default: $DIGITREC_DATA_DIR)")
    nondigits.set_defaults(handler=cmd_data_nondigits)


def cmd_data_download(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from digitrec.learning.data import (
        MIRRORS,
        PENDIGITS_ENV,
        PENDIGITS_URL,
        download,
        download_pendigits,
        resolve_data_dir,
        resolve_pendigits_dir,
    )

    target = resolve_data_dir(args.data_dir)
    check_folder_to_write(target, "--data-dir")
    bars: list[tqdm] = []

    def progress(name: str, total: int | None) -> Callable[[int], None]:
        bar = tqdm(total=total, desc=name, unit="B", unit_scale=True, file=sys.stderr)
        bars.append(bar)
        return bar.update

    try:
        paths = download(target, mirrors=args.mirror or MIRRORS, progress=progress, timeout=args.timeout)
    finally:
        for bar in bars:
            bar.close()
    print(f"MNIST is ready in {target} ({len(paths)} files, checksums verified)")
    if not args.no_pendigits:
        # Beside the MNIST folder downloaded into, unless named (flag, then environment).
        pendigits = args.pendigits_dir or os.environ.get(PENDIGITS_ENV) or target.parent / "pendigits"
        pendigits = resolve_pendigits_dir(pendigits)
        fetched = download_pendigits(pendigits, args.pendigits_url or PENDIGITS_URL, timeout=args.timeout)
        print(f"pendigits is ready: {fetched} (checksum verified)")
    return 0


def cmd_data_verify(args: argparse.Namespace) -> int:
    from digitrec.learning.data import FILES, resolve_data_dir, verify_file

    target = resolve_data_dir(args.data_dir)
    for spec in FILES.values():
        verify_file(target / spec.name, spec)
        print(f"ok  {target / spec.name}")
    return 0


def cmd_data_pieces(args: argparse.Namespace) -> int:
    from digitrec.learning.data import training_writers, write_dataset
    from digitrec.learning.drawings import NOT_A_DIGIT
    from digitrec.learning.pieces import reader_pieces

    out = Path(args.out)
    check_folder_to_write(out, "--out")
    writers = training_writers(args.pendigits_dir)
    images, labels = reader_pieces(writers, args.numbers, seed=args.seed)
    write_dataset(images, labels, out)
    rejected = int((labels == NOT_A_DIGIT).sum())
    print(f"wrote {len(labels)} pieces to {out}: {rejected} not a digit, {len(labels) - rejected} digits")
    return 0


def cmd_data_nondigits(args: argparse.Namespace) -> int:
    from digitrec.learning.nondigits import write_training_set

    out = Path(args.out)
    check_folder_to_write(out, "--out")
    for option, value in (("--scans", args.scans), ("--fonts", args.fonts)):
        if value < 0:
            fail(f"{option} must be 0 or more, not {value}")
    data_dir = Path(args.data_dir) if args.data_dir else None
    print(write_training_set(out, args.seed, args.leave_out, args.scans, data_dir, fonts=args.fonts))
    return 0
