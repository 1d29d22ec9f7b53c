"""The `digitrec` command. Thin: each command checks what it was given, then calls the library.

Every mistake a user can make (a path that exists or does not, a busy port, an unreachable
database, an unknown model, a bad flag) is found before the work starts and printed as one line
on stderr with exit code 1; never a traceback.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import re
import shlex
import socket
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from digitrec import __version__
from digitrec.checkpoint import METADATA_FILE, ONNX_FILE, WEIGHTS_FILE, resolve_model
from digitrec.errors import DigitrecError

if TYPE_CHECKING:
    from digitrec.feedback import Store

Handler = Callable[[argparse.Namespace], int]

# Below this, fine-tuning costs minutes and measures nothing: a held-out fifth of 10 drawings is
# 2 drawings, and 2 corrections moved MNIST accuracy down, not up.
MIN_CORRECTIONS = 20
DRY_RUN_IMAGES = 2000
# The same file names as `digitrec.train` (which needs torch to import).
RESUME_FILE = "resume.pt"


def fail(message: str) -> NoReturn:
    raise DigitrecError(message)


# --- parsing ---------------------------------------------------------------------------------


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
    made["model"].add_argument("--model", default="cnn", help="shipped model name or checkpoint folder")
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


def add_train(commands: Any, shared: dict[str, argparse.ArgumentParser]) -> None:
    train = commands.add_parser(
        "train", help="train a model on MNIST", parents=[shared["data"], shared["seed"], shared["force"]]
    )
    train.add_argument(
        "--model",
        default="cnn",
        help="architecture and its recipe: seed-ann, mlp, cnn, or pair-cnn (the number reader's pair reader)",
    )
    train.add_argument(
        "--out",
        help="checkpoint folder (default: runs/MODEL, runs/MODEL-fast with --fast, a new temporary "
        "folder with --dry-run)",
    )
    for flag, kind, what in (("--epochs", int, "epochs"), ("--batch-size", int, "batch size")):
        train.add_argument(flag, type=positive(kind), help=f"{what} (default: the model's recipe)")
    train.add_argument("--lr", type=positive(float), help="peak learning rate (default: the model's recipe)")
    train.add_argument("--fast", action="store_true", help="the fast recipe: 99%% in seconds (cnn)")
    train.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    train.add_argument(
        "--extra-data",
        action="append",
        default=[],
        metavar="DIR",
        help="an IDX folder to train on too, e.g. from `digitrec feedback export` (repeatable)",
    )
    train.add_argument("--limit", type=positive(int), metavar="N", help="train on the first N images only")
    train.add_argument(
        "--dry-run", action="store_true", help=f"one epoch on {DRY_RUN_IMAGES:,} images, to check the setup"
    )
    train.add_argument("--threads", type=positive(int), help="CPU threads (default: PyTorch's choice)")
    train.add_argument("--no-progress", action="store_true", help="no progress bars")
    train.set_defaults(handler=cmd_train)


def add_evaluate(commands: Any, shared: dict[str, argparse.ArgumentParser]) -> None:
    evaluate = commands.add_parser(
        "evaluate",
        help="accuracy and calibration on the MNIST test set, the held-out writers or non-digits",
        parents=[shared["model"], shared["data"]],
    )
    evaluate.add_argument(
        "--dataset",
        choices=("mnist-test", "writers", "non-digits", "omniglot", "held-out-kinds", "scans"),
        default="mnist-test",
        help="MNIST's test set, the held-out pendigits writers drawn as the page draws, the non-digit drawings, "
        "the Omniglot alphabets the model never saw, the measuring-only non-digit kinds, or MNIST test digits "
        "scanned on a page",
    )
    evaluate.add_argument(
        "--rotation",
        action="append",
        default=[],
        metavar="DIR",
        help="with --dataset omniglot: a model of the same recipe trained without an alphabet, measured on it "
        "in place of this model (repeatable; default: none, this model on the alphabets it never saw)",
    )
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument("--report", metavar="DIR", help="write confusion, error and training-curve PNGs here")
    evaluate.add_argument(
        "--preprocess", action="store_true", help="pass each test image through the drawing preprocessing first"
    )
    evaluate.add_argument("--record", action="store_true", help="store the measured accuracy in the model's metadata")
    evaluate.add_argument("--threads", type=positive(int), default=2, help="ONNX Runtime threads")
    evaluate.set_defaults(handler=cmd_evaluate)


def add_predict(commands: Any, shared: dict[str, argparse.ArgumentParser]) -> None:
    predict = commands.add_parser("predict", help="read the digit in image files", parents=[shared["model"]])
    predict.add_argument("images", nargs="+", metavar="IMAGE", help="PNG, JPEG, WebP, BMP or GIF files")
    predict.add_argument("--json", action="store_true", help="one JSON object per image")
    predict.set_defaults(handler=cmd_predict)


def add_export(commands: Any, shared: dict[str, argparse.ArgumentParser]) -> None:
    export = commands.add_parser("export", help="write a trained model as ONNX", parents=[shared["model"]])
    export.add_argument("--out", default="model.onnx", help="ONNX file to write")
    export.add_argument(
        "--quantize",
        action="store_true",
        help="write a static int8 graph of the model's model.onnx, calibrated on 512 MNIST training images",
    )
    export.add_argument(
        "--serve",
        action="store_true",
        help="with --quantize and --out inside the model folder: serve that graph from now on",
    )
    export.add_argument(
        "--data-dir",
        metavar="DIR",
        help="MNIST folder for --quantize (default: $DIGITREC_DATA_DIR, else the user cache)",
    )
    export.set_defaults(handler=cmd_export)


def add_data(commands: Any) -> None:
    data = commands.add_parser("data", help="get or check the MNIST files")
    actions = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    target = Parser(add_help=False)
    target.add_argument("--dir", help="MNIST folder (default: $DIGITREC_DATA_DIR, else the user cache)")
    download = actions.add_parser("download", help="download MNIST from public mirrors", parents=[target])
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
    nondigits = actions.add_parser(
        "nondigits",
        help="people's Omniglot characters and generated non-digits as 'not a digit', beside the training "
        "writers' digits, as a dataset for --extra-data",
    )
    nondigits.add_argument("--out", required=True, metavar="DIR", help="folder to write (gzip IDX, as MNIST's)")
    nondigits.add_argument("--seed", type=int, default=0, help="seed of the renderings")
    nondigits.add_argument(
        "--leave-out", action="append", default=[], metavar="ALPHABET", help="an Omniglot alphabet not to include"
    )
    nondigits.set_defaults(handler=cmd_data_nondigits)


def add_serve(commands: Any, shared: dict[str, argparse.ArgumentParser]) -> None:
    serve = commands.add_parser("serve", help="start the web app and HTTP API", parents=[shared["db"]])
    serve.add_argument("--host", help="address to listen on (default: $DIGITREC_HOST, else 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: $DIGITREC_PORT, else 8000)")
    serve.add_argument(
        "--workers", type=positive(int), help="worker processes (default: $DIGITREC_WORKERS, else one per CPU core)"
    )
    serve.add_argument(
        "--model",
        action="append",
        metavar="NAME|PATH",
        help="model to serve, repeatable; the first answers requests that name none "
        "(default: $DIGITREC_MODELS, else all shipped)",
    )
    serve.add_argument("--log-level", default="info", help="uvicorn log level")
    serve.set_defaults(handler=cmd_serve)


def add_feedback(commands: Any, shared: dict[str, argparse.ArgumentParser]) -> None:
    feedback = commands.add_parser("feedback", help="corrections stored by the web app")
    actions = feedback.add_subparsers(dest="feedback_command", required=True, metavar="ACTION")
    stats = actions.add_parser("stats", help="counts per label, per model, and the confusion", parents=[shared["db"]])
    stats.set_defaults(handler=cmd_feedback_stats)
    export = actions.add_parser("export", help="write the corrections as a dataset", parents=[shared["db"]])
    export.add_argument("--format", choices=["idx", "csv"], default="idx", help="gzip IDX files, as MNIST's, or CSV")
    export.add_argument("--out", required=True, metavar="DIR", help="folder to write")
    export.set_defaults(handler=cmd_feedback_export)


def add_finetune(commands: Any, shared: dict[str, argparse.ArgumentParser]) -> None:
    tune = commands.add_parser(
        "finetune",
        help="fine-tune a model on MNIST plus corrections",
        parents=[shared["model"], shared["data"], shared["seed"], shared["force"]],
    )
    tune.add_argument(
        "--extra-data",
        action="append",
        required=True,
        metavar="DIR",
        help=f"corrections written by `digitrec feedback export`, at least {MIN_CORRECTIONS} in all (repeatable)",
    )
    tune.add_argument(
        "--out", help="checkpoint folder to write (default: runs/finetuned, a new temporary folder with --dry-run)"
    )
    tune.add_argument(
        "--epochs", type=positive(int), default=3, help="passes of 12,000 replayed MNIST images plus corrections"
    )
    tune.add_argument("--lr", type=positive(float), default=1e-4, help="learning rate")
    tune.add_argument("--holdout", type=share, default=0.2, help="share of corrections kept out to measure")
    tune.add_argument("--share", type=share, default=0.25, help="share of each batch drawn from the extra data")
    tune.add_argument(
        "--digits-are-digits",
        action="store_true",
        help="hold replayed MNIST digits to the original model's digits with no share for 'not a digit' "
        "(default: to its answers as they are)",
    )
    tune.add_argument(
        "--dry-run", action="store_true", help="one pass of 500 replayed MNIST images, to check the setup"
    )
    tune.add_argument("--json", action="store_true", help="print the report as JSON")
    tune.set_defaults(handler=cmd_finetune)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="digitrec", description="Handwritten digit recognition.")
    parser.add_argument("--version", action="version", version=f"digitrec {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    shared = parents()
    add_train(commands, shared)
    add_evaluate(commands, shared)
    add_predict(commands, shared)
    add_export(commands, shared)
    add_data(commands)
    add_serve(commands, shared)
    add_feedback(commands, shared)
    add_finetune(commands, shared)
    add_calibrate(commands, shared)
    models = commands.add_parser("models", help="list the shipped models")
    models.set_defaults(handler=cmd_models)
    return parser


# --- checks made before any work starts ------------------------------------------------------


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
    from digitrec.data import FILES, resolve_data_dir, verify_file

    folder = resolve_data_dir(data_dir)
    for split in splits:
        for kind in ("images", "labels"):
            spec = FILES[f"{split}-{kind}"]
            verify_file(folder / spec.name, spec)
    return folder


def count_images(folders: Sequence[str], flag: str) -> int:
    from digitrec.data import load_split

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
    from digitrec.feedback import open_store

    try:
        return open_store(db)
    except DigitrecError as exc:
        # A driver's message runs over several lines and SQLAlchemy appends a link to its docs;
        # the first line says what happened ("connection refused", "password authentication failed").
        raise DigitrecError(one_line(str(exc).strip().splitlines()[0])) from None


def training_command() -> str:
    """The command line, as recorded in the checkpoint (empty when called from Python)."""
    return shlex.join(["digitrec", *sys.argv[1:]]) if sys.argv[0].endswith(("digitrec", "__main__.py")) else ""


# --- commands --------------------------------------------------------------------------------


def cmd_train(args: argparse.Namespace) -> int:
    import_training("training")
    from digitrec.models import ARCHITECTURES

    if args.model not in ARCHITECTURES:
        fail(f"unknown model {args.model!r}: choose one of {', '.join(ARCHITECTURES)}")
    if args.model == "pair-cnn":
        return train_pair_reader(args)
    data_dir = check_mnist(args.data_dir, "train", "test")
    count_images(args.extra_data, "--extra-data")
    if args.out:
        out = Path(args.out)
        check_checkpoint_out(out, force=args.force, resume=args.resume)
    elif args.dry_run:  # a check of the setup must never touch a real model
        out = Path(tempfile.mkdtemp(prefix="digitrec-dry-run-"))
    else:
        out = Path(f"runs/{args.model}{'-fast' if args.fast else ''}")
        check_checkpoint_out(out, force=args.force, resume=args.resume)

    from digitrec.evaluate import evaluate_test_set
    from digitrec.train import TrainConfig, fit

    config = TrainConfig(
        model=args.model,
        out=out,
        data_dir=data_dir,
        seed=args.seed,
        epochs=1 if args.dry_run else args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        fast=args.fast,
        resume=args.resume,
        limit=args.limit or (DRY_RUN_IMAGES if args.dry_run else None),
        extra_data=[Path(p) for p in args.extra_data],
        threads=args.threads,
        progress=not args.no_progress,
        command=training_command(),
    )
    folder = fit(config)
    metadata = json.loads((folder / METADATA_FILE).read_text())
    report, _ = evaluate_test_set(folder, data_dir, threads=args.threads or 2)
    validation = metadata["metrics"]["val_accuracy"]
    print(
        f"{'dry run: ' if args.dry_run else ''}wrote {folder}: test accuracy {report.accuracy:.4f} on "
        f"{report.n:,} MNIST test images"
        f"{'' if validation is None else f' (validation {validation:.4f})'}, "
        f"{metadata['training_seconds']} s of training"
    )
    return 0


def train_pair_reader(args: argparse.Namespace) -> int:
    """`digitrec train --model pair-cnn`: the number reader's reader of touching pairs, from the
    pendigits training writers alone (no MNIST); ships inside the cnn's folder as `pairs/`."""
    from digitrec.train import PAIR_IMAGES, fit_pair_reader

    out = Path(args.out or "runs/pairs")
    check_checkpoint_out(out, force=args.force, resume=False)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    folder = fit_pair_reader(out, args.seed, training_command(), images=args.limit or PAIR_IMAGES)
    metadata = json.loads((folder / METADATA_FILE).read_text())
    accuracy = metadata["metrics"]["held_out_pairs_accuracy"]
    print(f"wrote {folder}: {accuracy:.4f} of the held-out writers' pairs read right, {metadata['training_seconds']} s")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from digitrec.checkpoint import read_metadata, write_metadata
    from digitrec.evaluate import evaluate_test_set, measuring_cpu, write_report

    folder = resolve_model(args.model)
    if args.report:
        check_folder_to_write(Path(args.report), "--report")
    if args.record and not os.access(folder / METADATA_FILE, os.W_OK):
        fail(f"--record writes {folder / METADATA_FILE}, which is read-only here")
    if args.dataset != "mnist-test":
        return evaluate_other(args, folder)
    check_mnist(args.data_dir, "test")
    report, images = evaluate_test_set(
        args.model, args.data_dir, through_preprocess=args.preprocess, threads=args.threads
    )
    # Files first, so that a reader that stops early (`| head`) cannot lose them.
    if args.record:
        metadata = read_metadata(folder)
        key = "test_accuracy_preprocessed" if args.preprocess else "test_accuracy"
        metadata.setdefault("metrics", {})[key] = report.accuracy
        metadata["metrics"]["test_images"] = report.n
        if not args.preprocess:  # the calibration figures too, as for the other data sets
            metadata["metrics"]["mnist_test"] = recordable(report.as_dict())
        metadata["metrics"]["measured_on"] = measuring_cpu()
        write_metadata(folder, metadata)
        print(f"recorded {key} = {report.accuracy} in {folder}", file=sys.stderr)
    if args.report:
        history = read_metadata(folder).get("history", [])
        for path in write_report(report, images, history, Path(args.report)):
            print(f"wrote {path}", file=sys.stderr)
    if args.json:
        print(json.dumps(report.as_dict()))
        return 0
    errors = int((report.predicted != report.labels).sum())
    print(f"{report.model} ({report.version}): accuracy {report.accuracy:.4f} on {report.n:,} test images", end="")
    print(f" ({errors} errors)")
    print("digit  precision  recall")
    for digit, (p, r) in enumerate(zip(report.precision(), report.recall(), strict=True)):
        print(f"{digit:>5}  {p:9.4f}  {r:6.4f}")
    return 0


def recordable(result: dict[str, Any]) -> dict[str, Any]:
    """An evaluation's figures as model.json keeps them: no per-class tables, no names."""
    return {k: v for k, v in result.items() if k not in ("model", "version", "precision", "recall", "confusion")}


def evaluate_other(args: argparse.Namespace, folder: Path) -> int:
    """`evaluate --dataset writers|non-digits`: the figures in README's table, --record stores them."""
    from digitrec.checkpoint import read_metadata, write_metadata
    from digitrec.evaluate import evaluate_dataset, measuring_cpu

    if args.preprocess or args.report:
        fail("--preprocess and --report go with the MNIST test set (--dataset mnist-test)")
    if args.dataset in ("omniglot", "held-out-kinds", "scans"):
        from digitrec.rejection import rejection_report

        result = rejection_report(args.model, args.dataset, args.data_dir, args.threads, args.rotation)
    else:
        result = evaluate_dataset(args.model, args.dataset, args.data_dir, threads=args.threads).as_dict()
    if args.record:
        metadata = read_metadata(folder)
        metadata.setdefault("metrics", {})[args.dataset.replace("-", "_")] = recordable(result)
        metadata["metrics"]["measured_on"] = measuring_cpu()
        write_metadata(folder, metadata)
        print(f"recorded {args.dataset} in {folder}", file=sys.stderr)
    if args.json:
        print(json.dumps(result))
    elif args.dataset in ("omniglot", "held-out-kinds", "scans"):
        print(json.dumps(result, indent=1))
    elif "accuracy" in result:
        print(
            f"{result['model']}: accuracy {result['accuracy']:.4f} on {result['n']:,} {args.dataset} digits, "
            f"ECE {result['ece']:.4f}"
        )
    else:
        print(f"{result['model']}: {result['not_a_digit_rate']:.2%} of {result['n']:,} {args.dataset} flagged")
    return 0


def add_calibrate(commands: Any, shared: dict[str, argparse.ArgumentParser]) -> None:
    calibrate = commands.add_parser(
        "calibrate",
        help="fit the model's temperature and its 'not sure' / 'not a digit' thresholds on validation data",
        parents=[shared["model"], shared["data"]],
    )
    calibrate.set_defaults(handler=cmd_calibrate)


def cmd_calibrate(args: argparse.Namespace) -> int:
    from digitrec.evaluate import fit_calibration

    folder = resolve_model(args.model)
    if not os.access(folder / METADATA_FILE, os.W_OK):
        fail(f"calibrate writes {folder / METADATA_FILE}, which is read-only here")
    check_mnist(args.data_dir, "train")
    fitted = fit_calibration(folder, args.data_dir)
    print(
        f"{folder.name}: temperature {fitted['temperature']}, uncertain below {fitted['uncertain_below']:.4f}"
        + (f", not a digit above {fitted['not_a_digit_above']}" if "not_a_digit_above" in fitted else "")
        + f"; validation ECE {fitted['validation']['mnist_ece']:.4f} (MNIST), "
        f"{fitted['validation']['writers_ece']:.4f} (writers)"
    )
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from digitrec.decode import decode_image
    from digitrec.errors import InputError
    from digitrec.inference import Predictor

    predictor = Predictor(args.model)
    failures = 0
    for name in args.images:
        try:
            prediction = predictor.predict([decode_image(Path(name).read_bytes())])[0]
        except OSError as exc:
            print(f"{name}: cannot read ({exc.strerror})", file=sys.stderr)
            failures += 1
            continue
        except InputError as exc:
            print(f"{name}: {exc}", file=sys.stderr)
            failures += 1
            continue
        if args.json:
            probabilities = [round(p, 6) for p in prediction.probabilities]
            answer = {"file": name, "digit": prediction.digit, "confidence": round(prediction.confidence, 6)}
            print(json.dumps({**answer, "probabilities": probabilities}))
        else:
            print(f"{name}: {prediction.digit} ({prediction.confidence:.1%})")
    return 1 if failures else 0


def cmd_export(args: argparse.Namespace) -> int:
    folder = resolve_model(args.model)
    out = Path(args.out)
    check_new_file(out, "--out")
    if out.resolve() == (folder / ONNX_FILE).resolve():
        fail(f"--out {out} is the model's own graph, which export reads: choose another file")
    if args.serve and not args.quantize:
        fail("--serve goes with --quantize: it makes the model serve the int8 graph written to --out")
    if args.serve and out.resolve().parent != folder.resolve():
        fail(f"--serve needs --out inside the model folder {folder}, where serving looks for the graph")
    import_training("export")
    if args.quantize:
        quantize(folder, out, check_mnist(args.data_dir, "train"), serve=args.serve)
    else:
        from digitrec.checkpoint import write_graph
        from digitrec.train import load_torch_model

        model, metadata = load_torch_model(torch_checkpoint(args.model, "export"))
        difference = write_graph(model, out, metadata)
        print(f"parity with PyTorch: largest difference {difference:.1e}")
    print(f"wrote {out}")
    return 0


def quantize(folder: Path, out: Path, data_dir: Path, serve: bool) -> None:
    import numpy as np

    from digitrec.checkpoint import read_metadata, write_metadata
    from digitrec.data import load_split
    from digitrec.export import quantize
    from digitrec.preprocess import mnist_to_input

    images, _ = load_split(data_dir, "train")
    picked = np.random.default_rng(0).choice(len(images), 512, replace=False)
    quantize(folder / ONNX_FILE, out, mnist_to_input(images[picked]))
    if serve:
        metadata = read_metadata(folder)
        metadata["serving_graph"] = out.name
        write_metadata(folder, metadata)


def cmd_data_download(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from digitrec.data import MIRRORS, download, resolve_data_dir

    target = resolve_data_dir(args.dir)
    check_folder_to_write(target, "--dir")
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
    return 0


def cmd_data_verify(args: argparse.Namespace) -> int:
    from digitrec.data import FILES, resolve_data_dir, verify_file

    target = resolve_data_dir(args.dir)
    for spec in FILES.values():
        verify_file(target / spec.name, spec)
        print(f"ok  {target / spec.name}")
    return 0


def cmd_data_pieces(args: argparse.Namespace) -> int:
    from digitrec.data import training_writers
    from digitrec.drawings import NOT_A_DIGIT
    from digitrec.pieces import reader_pieces

    out = Path(args.out)
    check_folder_to_write(out, "--out")
    writers = training_writers(args.pendigits_dir)
    images, labels = reader_pieces(writers, args.numbers, seed=args.seed)
    write_dataset(images, labels, out, "idx")
    rejected = int((labels == NOT_A_DIGIT).sum())
    print(f"wrote {len(labels)} pieces to {out}: {rejected} not a digit, {len(labels) - rejected} digits")
    return 0


def cmd_data_nondigits(args: argparse.Namespace) -> int:
    from digitrec.nondigits import write_training_set

    out = Path(args.out)
    check_folder_to_write(out, "--out")
    print(write_training_set(out, args.seed, args.leave_out))
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from digitrec.checkpoint import read_metadata, shipped_models

    for name in shipped_models():
        metadata = read_metadata(resolve_model(name))
        accuracy = metadata.get("metrics", {}).get("test_accuracy")
        shown = f"{accuracy:.4f}" if accuracy is not None else "not measured"
        print(
            f"{name:10} test accuracy {shown}  {metadata.get('parameters', 0):>9,} parameters  "
            f"{metadata.get('description', '')}"
        )
    return 0


def check_port(host: str, port: int) -> None:
    """Bind the address as uvicorn will (SO_REUSEADDR), so that a busy port is reported before
    anything says it serves."""
    if not 1 <= port <= 65535:
        fail(f"port {port} is not a port: choose one from 1 to 65535")
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except socket.gaierror:
            fail(f"cannot listen on {host!r}: no such address (try 127.0.0.1, or 0.0.0.0 for every interface)")
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                fail(f"port {port} on {host} is in use: stop what runs there, or choose another --port")
            if exc.errno == errno.EACCES:
                fail(f"port {port} needs administrator rights: choose one above 1023")
            if exc.errno == errno.EADDRNOTAVAIL:
                fail(f"cannot listen on {host}: it is not an address of this machine")
            fail(f"cannot listen on {host}:{port} ({exc.strerror})")


def serve_settings(args: argparse.Namespace) -> Any:
    from digitrec.web.settings import Settings

    try:
        return Settings.from_env(
            database_url=args.db,
            host=args.host,
            port=args.port,
            workers=args.workers,
            models=args.model or None,
            default_model=(args.model or [None])[0],
        )
    except (TypeError, ValueError) as exc:  # DIGITREC_PORT=abc and the like
        errors = getattr(exc, "errors", None)  # pydantic's, one per setting
        said = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors()] if callable(errors) else [str(exc)]
        fail(f"a setting is not valid ({'; '.join(said)}): check the flags and DIGITREC_* variables")


def check_database(url: str, explicit: bool) -> bool:
    """True when corrections can be stored. A database the user named must answer; the default
    SQLite file failing (a read-only home) leaves the app serving predictions without feedback."""
    try:
        open_store(url).close()
    except DigitrecError as exc:
        if explicit:
            raise
        print(f"digitrec: warning: {exc}; predictions still work, corrections answer 503", file=sys.stderr)
        return False
    return True


def cmd_serve(args: argparse.Namespace) -> int:
    from digitrec.feedback import DATABASE_URL_ENV, resolve_database_url
    from digitrec.inference import Predictor
    from digitrec.web.app import create_app

    settings = serve_settings(args)
    if settings.workers < 1:
        fail(f"{settings.workers} workers: serve needs at least 1")
    # An unknown or unreadable model fails here, in one line, before anything says it serves.
    predictors = {name: Predictor(name, threads=settings.threads) for name in settings.models}
    check_port(settings.host, settings.port)
    explicit = bool(args.db or os.environ.get(DATABASE_URL_ENV))
    settings.database_url = resolve_database_url(settings.database_url or None)
    # Migrated here, before any worker process starts: the workers' own check then finds the
    # schema at its newest revision (a no-op) instead of racing each other to create it.
    check_database(settings.database_url, explicit)
    # Built here whatever the number of workers (each worker builds its own), so that what the
    # app refuses (a too-short admin token...) is one line now, not a traceback per worker later.
    app: Any = create_app(settings, predictors)
    del predictors
    if settings.workers > 1:
        app = None  # each worker builds its own: the supervisor process need not hold the models
    workers = f"{settings.workers} worker{'s' if settings.workers > 1 else ''}"
    print(
        f"digitrec: serving {', '.join(settings.models)} on http://{settings.host}:{settings.port}/ ({workers})",
        file=sys.stderr,
    )
    run_server(settings, app, args.log_level)
    return 0


def run_server(settings: Any, app: Any, log_level: str) -> None:
    from digitrec.web import server

    # One listening socket per worker (SO_REUSEPORT), TCP_NODELAY, slow-client deadline and the
    # connection cap: all in web/server.py.
    server.serve(settings, log_level, app)


def cmd_feedback_stats(args: argparse.Namespace) -> int:
    store = open_store(args.db)
    stats = store.stats()
    store.close()
    print(f"total: {stats.total}")
    print("per label: " + (", ".join(f"{k}: {v}" for k, v in stats.per_label.items()) or "none"))
    print("per model: " + (", ".join(f"{k}: {v}" for k, v in stats.per_model.items()) or "none"))
    print("predicted -> corrected:")
    for (predicted, label), count in sorted(stats.confusion.items(), key=lambda kv: (-kv[1], str(kv[0]))):
        print(f"  {'-' if predicted is None else predicted} -> {label}: {count}")
    return 0


def cmd_feedback_export(args: argparse.Namespace) -> int:
    out = Path(args.out)
    check_folder_to_write(out, "--out")
    store = open_store(args.db)
    try:
        if not store.count():
            fail(f'no corrections in {masked(store.url)} yet: nothing to export (they come from the page\'s "Wrong?")')
        images, labels = store.dataset()
    finally:
        store.close()
    written = write_dataset(images, labels, out, args.format)
    print(f"exported {len(labels)} corrections to {out} ({', '.join(written)})")
    if len(labels) < MIN_CORRECTIONS:
        print(f"digitrec: note: `digitrec finetune` needs at least {MIN_CORRECTIONS} corrections", file=sys.stderr)
    return 0


def write_dataset(images: Any, labels: Any, out: Path, form: str) -> list[str]:
    import numpy as np

    from digitrec.data import write_idx

    out.mkdir(parents=True, exist_ok=True)
    if form == "idx":
        # The names of MNIST's training files, so `load_split(out, "train")` and --extra-data read it.
        write_idx(out / "train-images-idx3-ubyte.gz", images)
        write_idx(out / "train-labels-idx1-ubyte.gz", labels.astype(np.uint8))
        return ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    with (out / "corrections.csv").open("w") as handle:
        handle.write("label," + ",".join(f"{r}x{c}" for r in range(1, 29) for c in range(1, 29)) + "\n")
        for image, label in zip(images, labels, strict=True):
            handle.write(f"{label}," + ",".join(map(str, image.ravel())) + "\n")
    return ["corrections.csv"]


def cmd_finetune(args: argparse.Namespace) -> int:
    import_training("fine-tuning")
    torch_checkpoint(args.model, "finetune")
    data_dir = check_mnist(args.data_dir, "train", "test")
    found = count_images(args.extra_data, "--extra-data")
    if found < MIN_CORRECTIONS:
        fail(
            f"only {found} correction{'s' if found != 1 else ''} in {', '.join(args.extra_data)}: fine-tuning needs "
            f"at least {MIN_CORRECTIONS} (fewer cost minutes and lowered accuracy)"
        )
    if args.out:
        out = Path(args.out)
        check_checkpoint_out(out, force=args.force)
    elif args.dry_run:
        out = Path(tempfile.mkdtemp(prefix="digitrec-dry-run-"))
    else:
        out = Path("runs/finetuned")
        check_checkpoint_out(out, force=args.force)

    from digitrec.finetune import FinetuneConfig, finetune

    config = FinetuneConfig(
        model=args.model,
        extra_data=[Path(p) for p in args.extra_data],
        out=out,
        data_dir=data_dir,
        epochs=1 if args.dry_run else args.epochs,
        lr=args.lr,
        seed=args.seed,
        holdout=args.holdout,
        correction_share=args.share,
        digits_are_digits=args.digits_are_digits,
        command=training_command(),
    )
    if args.dry_run:
        config.replay = 500
    report = finetune(config)
    print(json.dumps(report) if args.json else finetune_summary(report, args.model, out))
    return 0


def finetune_summary(report: dict[str, Any], model: str, out: Path) -> str:
    def shown(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.4f}"

    before, after = report["before"], report["after"]
    return (
        f"fine-tuned {model} on {report['corrections_used']} corrections "
        f"({report['corrections_held_out']} held out) in {report['seconds']} s -> {out}\n"
        f"MNIST test accuracy:        {shown(before['mnist_test'])} -> {shown(after['mnist_test'])}\n"
        f"held-out corrections:       {shown(before['corrections_holdout'])} -> {shown(after['corrections_holdout'])}"
    )


# --- the edge: errors become one line --------------------------------------------------------


def one_line(message: str) -> str:
    """Messages from deeper down may span lines (database drivers) or carry a URL's password."""
    flat = " ".join(part.strip() for part in message.splitlines() if part.strip())
    return re.sub(r"(://[^:/@\s]*:)[^@\s]*@", r"\1***@", flat)


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
