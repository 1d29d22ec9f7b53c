"""Commands that make and measure models: train, evaluate, calibrate, export, finetune, models."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from digitrec.cli.common import (
    MIN_CORRECTIONS,
    check_checkpoint_out,
    check_folder_to_write,
    check_mnist,
    check_new_file,
    count_images,
    fail,
    import_training,
    positive,
    share,
    torch_checkpoint,
    training_command,
)
from digitrec.reading.card import METADATA_FILE, ONNX_FILE, ModelCard, resolve_model

DRY_RUN_IMAGES = 2000
REJECTION_SETS = ("omniglot", "held-out-kinds", "scans")  # measured by learning/rejection.py


def add(commands: Any, shared: dict[str, argparse.ArgumentParser]) -> None:
    add_train(commands, shared)
    add_evaluate(commands, shared)
    add_calibrate(commands, shared)
    add_export(commands, shared)
    add_finetune(commands, shared)
    add_recipe(commands, shared)
    models = commands.add_parser("models", help="list the shipped models")
    models.set_defaults(handler=cmd_models)


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
        choices=("mnist-test", "writers", "non-digits", "omniglot", "held-out-kinds", "scans", "numbers"),
        default="mnist-test",
        help="MNIST's test set, the held-out pendigits writers drawn as the page draws, the non-digit drawings, "
        "the Omniglot alphabets the model never saw, the measuring-only non-digit kinds, MNIST test digits "
        "scanned on a page, or 200 whole numbers of the held-out writers written as people write them",
    )
    evaluate.add_argument(
        "--rotation",
        action="append",
        default=[],
        metavar="DIR",
        help="with --dataset omniglot: a model of the same recipe trained without an alphabet, measured on it "
        "in place of this model (repeatable; default: none, this model on the alphabets it never saw); with "
        "--dataset held-out-kinds: one made without the held-out shapes (data nondigits --leave-out shapes)",
    )
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument("--report", metavar="DIR", help="write confusion, error and training-curve PNGs here")
    evaluate.add_argument(
        "--preprocess", action="store_true", help="pass each test image through the drawing preprocessing first"
    )
    evaluate.add_argument("--record", action="store_true", help="store the measured accuracy in the model's metadata")
    evaluate.add_argument("--threads", type=positive(int), default=2, help="ONNX Runtime threads")
    evaluate.set_defaults(handler=cmd_evaluate)


def add_calibrate(commands: Any, shared: dict[str, argparse.ArgumentParser]) -> None:
    calibrate = commands.add_parser(
        "calibrate",
        help="fit the model's temperature and its 'not sure' / 'not a digit' thresholds on validation data",
        parents=[shared["model"], shared["data"]],
    )
    calibrate.set_defaults(handler=cmd_calibrate)


def add_export(commands: Any, shared: dict[str, argparse.ArgumentParser]) -> None:
    export = commands.add_parser("export", help="write a trained model as ONNX", parents=[shared["model"]])
    export.add_argument("--out", default="model.onnx", help="ONNX file to write")
    export.add_argument("--force", action="store_true", help="replace --out if it exists (refused without it)")
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
    tune.add_argument("--share", type=share, default=0.25, help="share of each batch drawn from the extra data")
    tune.add_argument(
        "--digits-are-digits",
        action="store_true",
        help="hold replayed MNIST digits to the original model's digits with no share for 'not a digit' "
        "(default: to its answers as they are)",
    )
    tune.add_argument("--holdout", type=share, default=0.2, help="share of corrections kept out to measure")
    tune.add_argument(
        "--max-drop",
        type=share,
        default=0.002,
        help="the most MNIST validation accuracy may drop: the largest blend back towards the original "
        "weights that keeps within it is kept (default: 0.002, 0.2 points)",
    )
    tune.add_argument(
        "--dry-run",
        action="store_true",
        help="one pass of 500 replayed MNIST images, to check the setup (the calibration and the comparison "
        "still read their whole sets)",
    )
    tune.add_argument(
        "--serving-dir",
        metavar="DIR",
        help="where promoted models live, to compare with the one served "
        "(default: $DIGITREC_SERVING_DIR, else the user data folder)",
    )
    tune.add_argument("--json", action="store_true", help="print the report as JSON")
    tune.set_defaults(handler=cmd_finetune)


def add_recipe(commands: Any, shared: dict[str, argparse.ArgumentParser]) -> None:
    recipe = commands.add_parser(
        "recipe",
        help="make the shipped cnn, every step: the reader's pieces, the non-digits, train, calibrate, measure",
        parents=[shared["data"], shared["seed"], shared["force"]],
    )
    recipe.add_argument("name", choices=("cnn",), help="the model to make")
    recipe.add_argument("--out", help="checkpoint folder to write (default: runs/cnn; a temporary one with --dry-run)")
    recipe.add_argument(
        "--pendigits-dir", help="pendigits folder (default: $DIGITREC_PENDIGITS_DIR, else beside the MNIST folder)"
    )
    recipe.add_argument("--pairs", metavar="DIR", help="the pair reader to ship beside it (default: the shipped cnn's)")
    recipe.add_argument("--threads", type=positive(int), help="CPU threads (default: PyTorch's choice)")
    recipe.add_argument(
        "--dry-run", action="store_true", help="every step on a little data, in a temporary folder removed after"
    )
    recipe.set_defaults(handler=cmd_recipe)


def cmd_recipe(args: argparse.Namespace) -> int:
    import_training("the recipe")
    data_dir = check_mnist(args.data_dir, "train", "test")
    scratch = args.dry_run and not args.out
    out = Path(tempfile.mkdtemp(prefix="digitrec-dry-run-")) if scratch else Path(args.out or "runs/cnn")
    if not scratch:
        check_checkpoint_out(out, force=args.force)
    from digitrec.learning.recipe import RecipeConfig, make_cnn

    config = RecipeConfig(
        out=out,
        seed=args.seed,
        data_dir=data_dir,
        pendigits_dir=Path(args.pendigits_dir) if args.pendigits_dir else None,
        threads=args.threads,
        pairs=Path(args.pairs) if args.pairs else None,
        command=training_command(),
        dry_run=args.dry_run,
    )
    try:
        card = make_cnn(config, say=lambda line: print(line, file=sys.stderr))
    finally:
        if scratch:
            shutil.rmtree(out, ignore_errors=True)
    mnist, writers = card.metrics["test_accuracy"], card.metrics["writers"]["accuracy"]
    where = "dry run (folder removed)" if scratch else f"wrote {out}"
    print(f"{where}: MNIST test accuracy {mnist:.4f}, held-out writers {writers:.4f}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    import_training("training")
    from digitrec.learning.models import ARCHITECTURES

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

    from digitrec.learning.evaluate import evaluate_test_set
    from digitrec.learning.train import TrainConfig, fit

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
    try:
        folder = fit(config)
        card = ModelCard.load(folder)
        report, _ = evaluate_test_set(folder, data_dir, threads=args.threads or 2)
    finally:
        if args.dry_run and not args.out:  # the check's own temporary folder: nothing to keep
            shutil.rmtree(out, ignore_errors=True)
    validation = card.metrics.get("val_accuracy")
    print(
        f"{'dry run (folder removed): ' if args.dry_run and not args.out else f'wrote {folder}: '}"
        f"test accuracy {report.accuracy:.4f} on {report.n:,} MNIST test images"
        f"{'' if validation is None else f' (validation {validation:.4f})'}, "
        f"{getattr(card, 'training_seconds', '?')} s of training"
    )
    return 0


def train_pair_reader(args: argparse.Namespace) -> int:
    """`digitrec train --model pair-cnn`: the number reader's reader of touching pairs, from the
    pendigits training writers alone (no MNIST); ships inside the cnn's folder as `pairs/`."""
    from digitrec.learning.pair_training import PAIR_IMAGES, fit_pair_reader

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
    from digitrec.learning.evaluate import evaluate_test_set, record, write_report

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
        key = "test_accuracy_preprocessed" if args.preprocess else "mnist_test"
        record(folder, key, report)
        print(f"recorded {key} ({report.accuracy}) in {folder}", file=sys.stderr)
    if args.report:
        history = getattr(ModelCard.load(folder), "history", [])
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


def evaluate_numbers(args: argparse.Namespace) -> int:
    from digitrec.learning.numbers_eval import evaluate_numbers
    from digitrec.reading.reader import Reader

    if args.record:
        fail("--record keeps the digit data sets' figures; the numbers' are in docs/models.md")
    result = evaluate_numbers(Reader(args.model, threads=args.threads)).as_dict()
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{args.model}: {result['strokes_accuracy']:.2%} of {result['n']} numbers read exactly as strokes, "
            f"{result['picture_accuracy']:.2%} as pictures"
        )
        for name, part in result["by_condition"].items():  # type: ignore[attr-defined]
            print(
                f"  {name:<11} {part['n']:>4} numbers: {part['strokes_accuracy']:.2%} as strokes, "
                f"{part['picture_accuracy']:.2%} as pictures"
            )
    return 0


def evaluate_other(args: argparse.Namespace, folder: Path) -> int:
    """`evaluate --dataset writers|non-digits`: the figures in README's table, --record stores them."""
    from digitrec.learning.evaluate import evaluate_dataset, record

    if args.preprocess or args.report:
        fail("--preprocess and --report go with the MNIST test set (--dataset mnist-test)")
    if args.dataset == "numbers":
        return evaluate_numbers(args)
    if args.dataset in REJECTION_SETS:
        from digitrec.learning.omniglot import card_learned_shapes
        from digitrec.learning.rejection import rejection_report

        recording_alone = args.dataset == "held-out-kinds" and args.record and not args.rotation
        if recording_alone and card_learned_shapes(ModelCard.load(folder)):
            fail("this model learned the held-out shapes: --record its held-out kinds with --rotation DIR")
        report: Any = rejection_report(args.model, args.dataset, args.data_dir, args.threads, args.rotation)
        result = report
    else:
        report = evaluate_dataset(args.model, args.dataset, args.data_dir, threads=args.threads)
        result = report.as_dict()
    if args.record:
        record(folder, args.dataset.replace("-", "_"), report)
        print(f"recorded {args.dataset} in {folder}", file=sys.stderr)
    if args.json:
        print(json.dumps(result))
    elif args.dataset in REJECTION_SETS:
        print(json.dumps(result, indent=1))
    elif "accuracy" in result:
        print(
            f"{result['model']}: accuracy {result['accuracy']:.4f} on {result['n']:,} {args.dataset} digits, "
            f"ECE {result['ece']:.4f}"
        )
    else:
        print(f"{result['model']}: {result['not_a_digit_rate']:.2%} of {result['n']:,} {args.dataset} flagged")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from digitrec.learning.evaluate import fit_calibration

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
    if out.exists() and not args.force:
        fail(f"--out {out} exists: choose another file, or --force to replace it")
    import_training("export")
    if args.quantize:
        from digitrec.learning.export import quantize_model

        quantize_model(folder, out, check_mnist(args.data_dir, "train"), serve=args.serve)
    else:
        from digitrec.learning.checkpoint import write_graph
        from digitrec.learning.train import load_torch_model

        model, card = load_torch_model(torch_checkpoint(args.model, "export"))
        difference = write_graph(model, out, card)
        print(f"parity with PyTorch: largest difference {difference:.1e}")
    print(f"wrote {out}")
    return 0


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

    from digitrec.learning.finetune import FinetuneConfig, finetune

    config = FinetuneConfig(
        served=served_now(args.model, args.serving_dir),
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
        max_drop=args.max_drop,
        command=training_command(),
    )
    if args.dry_run:
        config.replay = 500
    report = finetune(config)
    print(json.dumps(report) if args.json else finetune_summary(report, args.model, out))
    return 0


def served_now(model: str, serving_dir: str | None) -> Path:
    """The checkpoint answering for `model`'s name now: promoted (`digitrec promote`), or itself."""
    from digitrec.store.served import ServedModels

    return ServedModels(serving_dir).current(Path(model).name) or resolve_model(model)


def finetune_summary(report: dict[str, Any], model: str, out: Path) -> str:
    from digitrec.learning.compare import comparison_lines

    def shown(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.4f}"

    before, after = report["before"], report["after"]
    return (
        f"fine-tuned {model} on {report['corrections_used']} corrections "
        f"({report['corrections_held_out']} held out) in {report['seconds']} s -> {out}\n"
        + (
            f"left out: {report['left_out_not_a_digit']} labelled 'not a digit', which this model cannot say\n"
            if report["left_out_not_a_digit"]
            else ""
        )
        + f"MNIST test accuracy:        {shown(before['mnist_test'])} -> {shown(after['mnist_test'])}\n"
        f"held-out corrections:       {shown(before['corrections_holdout'])} -> {shown(after['corrections_holdout'])}\n"
        f"against the served model ({report['comparison']['served_version']}), through the serving road:\n"
        + "\n".join(comparison_lines(report["comparison"]))
        + ("\n" + f"serve it with: digitrec promote {out}" if report["comparison"]["verdict"] == "better" else "")
    )


def cmd_models(args: argparse.Namespace) -> int:
    from digitrec.reading.card import shipped_models

    for name in shipped_models():
        card = ModelCard.load(resolve_model(name))
        shown = f"{card.accuracy:.4f}" if card.accuracy is not None else "not measured"
        print(f"{name:10} test accuracy {shown}  {card.parameters or 0:>9,} parameters  {card.description}")
    return 0
