"""The `digitrec` command. Thin: each command parses its flags and calls one library function.

Errors a user can fix (DigitrecError) are printed on one line with exit code 1, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from digitrec.errors import DigitrecError

Handler = Callable[[argparse.Namespace], int]


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.ArgumentDefaultsHelpFormatter(prog, max_help_position=32)


def cmd_train(args: argparse.Namespace) -> int:
    try:
        from digitrec.train import TrainConfig, fit
    except ImportError as exc:
        raise DigitrecError(f"training needs PyTorch ({exc.name} is missing): pip install 'digitrec[train]'") from exc

    out = Path(args.out or f"runs/{args.model}{'-fast' if args.fast else ''}")
    config = TrainConfig(
        model=args.model,
        out=out,
        data_dir=args.data_dir,
        seed=args.seed,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        fast=args.fast,
        resume=args.resume,
        limit=args.limit or (2000 if args.dry_run else None),
        extra_data=[Path(p) for p in args.extra_data],
        threads=args.threads,
        progress=not args.no_progress,
        command=shlex.join(["digitrec", *sys.argv[1:]]) if sys.argv[0].endswith(("digitrec", "__main__.py")) else "",
    )
    if args.dry_run:
        config.epochs = 1
    folder = fit(config)
    metadata = json.loads((folder / "model.json").read_text())
    accuracy = metadata["metrics"]["val_accuracy"]
    measured = f"validation accuracy {accuracy:.4f}" if accuracy is not None else "no validation split"
    print(f"wrote {folder} ({measured}, {metadata['training_seconds']} s)")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from digitrec.checkpoint import read_metadata, write_metadata
    from digitrec.evaluate import evaluate_test_set, measuring_cpu, write_report

    report, images = evaluate_test_set(
        args.model, args.data_dir, through_preprocess=args.preprocess, threads=args.threads
    )
    folder = _model_folder(args.model)
    # Files first, so that a reader that stops early (`| head`) cannot lose them.
    if args.record:
        metadata = read_metadata(folder)
        key = "test_accuracy_preprocessed" if args.preprocess else "test_accuracy"
        metadata.setdefault("metrics", {})[key] = report.accuracy
        metadata["metrics"]["test_images"] = report.n
        metadata["metrics"]["measured_on"] = measuring_cpu()
        write_metadata(folder, metadata)
        print(f"recorded {key} = {report.accuracy} in {folder}", file=sys.stderr)
    if args.report:
        history = read_metadata(folder).get("history", [])
        for path in write_report(report, images, history, Path(args.report)):
            print(f"wrote {path}", file=sys.stderr)
    if args.json:
        print(json.dumps(report.as_dict()))
    else:
        print(
            f"{report.model} ({report.version}): accuracy {report.accuracy:.4f} on {report.n:,} test images "
            f"({int((report.predicted != report.labels).sum())} errors)"
        )
        print("digit  precision  recall")
        for digit, (p, r) in enumerate(zip(report.precision(), report.recall(), strict=True)):
            print(f"{digit:>5}  {p:9.4f}  {r:6.4f}")
    return 0


def _model_folder(reference: str | None) -> Path:
    from digitrec.checkpoint import resolve_model

    return resolve_model(reference)


def cmd_predict(args: argparse.Namespace) -> int:
    from digitrec.decode import decode_image
    from digitrec.errors import InputError
    from digitrec.inference import Predictor

    predictor = Predictor(args.model)
    failures = 0
    for name in args.images:
        try:
            data = Path(name).read_bytes()
        except OSError as exc:
            print(f"{name}: cannot read ({exc.strerror})", file=sys.stderr)
            failures += 1
            continue
        try:
            prediction = predictor.predict([decode_image(data)])[0]
        except InputError as exc:
            print(f"{name}: {exc}", file=sys.stderr)
            failures += 1
            continue
        if args.json:
            print(
                json.dumps(
                    {
                        "file": name,
                        "digit": prediction.digit,
                        "confidence": round(prediction.confidence, 6),
                        "probabilities": [round(p, 6) for p in prediction.probabilities],
                    }
                )
            )
        else:
            print(f"{name}: {prediction.digit} ({prediction.confidence:.1%})")
    return 1 if failures else 0


def cmd_export(args: argparse.Namespace) -> int:
    import numpy as np

    from digitrec.checkpoint import read_metadata, write_metadata

    try:
        from digitrec.export import export_onnx
        from digitrec.train import load_torch_model
    except ImportError as exc:
        raise DigitrecError(f"export needs PyTorch ({exc.name} is missing): pip install 'digitrec[train]'") from exc
    folder = _model_folder(args.model)
    out = Path(args.out)
    if args.quantize:
        from digitrec.data import load_split, resolve_data_dir
        from digitrec.export import quantize
        from digitrec.preprocess import mnist_to_input

        images, _ = load_split(resolve_data_dir(args.data_dir), "train")
        picked = np.random.default_rng(0).choice(len(images), 512, replace=False)
        quantize(folder / "model.onnx", out, mnist_to_input(images[picked]))
        if args.serve:
            metadata = read_metadata(folder)
            metadata["serving_graph"] = out.name
            write_metadata(folder, metadata)
    else:
        model, metadata = load_torch_model(folder)
        export_onnx(model, out, metadata)
    print(f"wrote {out}")
    return 0


def cmd_data_download(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from digitrec.data import download, resolve_data_dir

    target = resolve_data_dir(args.dir)
    bars: list[tqdm] = []

    def progress(name: str, total: int | None) -> Callable[[int], None]:
        bar = tqdm(total=total, desc=name, unit="B", unit_scale=True, file=sys.stderr)
        bars.append(bar)
        return bar.update

    try:
        paths = download(target, progress=progress, timeout=args.timeout)
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


def cmd_models(args: argparse.Namespace) -> int:
    from digitrec.checkpoint import read_metadata, resolve_model, shipped_models

    for name in shipped_models():
        metadata = read_metadata(resolve_model(name))
        accuracy = metadata.get("metrics", {}).get("test_accuracy")
        shown = f"{accuracy:.4f}" if accuracy is not None else "not measured"
        print(
            f"{name:10} test accuracy {shown}  {metadata.get('parameters', 0):>9,} parameters  "
            f"{metadata.get('description', '')}"
        )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import os

    import uvicorn

    from digitrec.feedback import migrate, resolve_database_url
    from digitrec.web import server
    from digitrec.web.app import create_app
    from digitrec.web.settings import Settings

    settings = Settings.from_env(
        database_url=args.db,
        host=args.host,
        port=args.port,
        workers=args.workers,
        models=args.model or None,
        default_model=(args.model or [None])[0],
    )
    workers = f"{settings.workers} worker{'s' if settings.workers > 1 else ''}"
    print(
        f"digitrec: serving {', '.join(settings.models)} on http://{settings.host}:{settings.port}/ ({workers})",
        file=sys.stderr,
    )
    # Migrate here, before any worker process starts: the workers' own check then finds the schema
    # at its newest revision (a no-op) instead of racing each other to create it on a first start.
    settings.database_url = resolve_database_url(settings.database_url or None)
    try:
        migrate(settings.database_url)
    except Exception as exc:
        print(f"digitrec: warning: feedback storage unavailable ({exc}); predictions still work", file=sys.stderr)
    if settings.workers > 1:
        # Worker processes import the app themselves; hand them the same settings by environment.
        os.environ.update(settings.to_env())
        uvicorn.run(
            "digitrec.web.app:create_app_from_env",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_level=args.log_level,
            access_log=False,
            loop=server.loop_for(settings.workers),
            http=server.HTTP,
        )
    else:
        uvicorn.run(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            log_level=args.log_level,
            access_log=False,
            loop=server.loop_for(1),
            http=server.HTTP,
        )
    return 0


def cmd_feedback_stats(args: argparse.Namespace) -> int:
    from digitrec.feedback import open_store

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
    import numpy as np

    from digitrec.data import write_idx
    from digitrec.feedback import open_store

    store = open_store(args.db)
    images, labels = store.dataset()
    store.close()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.format == "idx":
        # The names of MNIST's training files, so `load_split(out, "train")` and --extra-data read it.
        write_idx(out / "train-images-idx3-ubyte.gz", images)
        write_idx(out / "train-labels-idx1-ubyte.gz", labels.astype(np.uint8))
        written = "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz"
    else:
        with (out / "corrections.csv").open("w") as handle:
            handle.write("label," + ",".join(f"{r}x{c}" for r in range(1, 29) for c in range(1, 29)) + "\n")
            for image, label in zip(images, labels, strict=True):
                handle.write(f"{label}," + ",".join(map(str, image.ravel())) + "\n")
        written = "corrections.csv"
    print(f"exported {len(labels)} corrections to {out} ({written})")
    return 0


def cmd_finetune(args: argparse.Namespace) -> int:
    try:
        from digitrec.finetune import FinetuneConfig, finetune
    except ImportError as exc:
        raise DigitrecError(
            f"fine-tuning needs PyTorch ({exc.name} is missing): pip install 'digitrec[train]'"
        ) from exc
    config = FinetuneConfig(
        model=args.model,
        extra_data=[Path(p) for p in args.extra_data],
        out=Path(args.out),
        data_dir=args.data_dir,
        epochs=args.epochs,
        lr=args.lr,
        seed=args.seed,
        holdout=args.holdout,
        command=shlex.join(["digitrec", *sys.argv[1:]]),
    )
    report = finetune(config)
    if args.json:
        print(json.dumps(report))
        return 0

    def shown(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.4f}"

    print(
        f"fine-tuned {args.model} on {report['corrections_used']} corrections "
        f"({report['corrections_held_out']} held out) in {report['seconds']} s -> {args.out}"
    )
    print(
        f"MNIST test accuracy:        {shown(report['before']['mnist_test'])} -> {shown(report['after']['mnist_test'])}"
    )
    print(
        f"held-out corrections:       {shown(report['before']['corrections_holdout'])} -> "
        f"{shown(report['after']['corrections_holdout'])}"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="digitrec", description="Handwritten digit recognition.", formatter_class=_formatter
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser("train", help="train a model on MNIST", formatter_class=_formatter)
    train.add_argument("--model", default="cnn", help="architecture and its recipe: seed-ann, mlp or cnn")
    train.add_argument("--out", help="checkpoint folder (default: runs/MODEL)")
    train.add_argument("--data-dir", help="MNIST folder (default: $DIGITREC_DATA_DIR, else the user cache)")
    train.add_argument("--epochs", type=int, help="epochs (default: the model's recipe)")
    train.add_argument("--batch-size", type=int, help="batch size (default: the model's recipe)")
    train.add_argument("--lr", type=float, help="peak learning rate (default: the model's recipe)")
    train.add_argument("--seed", type=int, default=0, help="random seed")
    train.add_argument("--fast", action="store_true", help="the fast recipe: 99%% in seconds (cnn)")
    train.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    train.add_argument(
        "--extra-data",
        action="append",
        default=[],
        metavar="DIR",
        help="another IDX folder to train on too (repeatable)",
    )
    train.add_argument("--limit", type=int, help="train on the first N images only")
    train.add_argument("--dry-run", action="store_true", help="one epoch on 2,000 images, to check the setup")
    train.add_argument("--threads", type=int, help="CPU threads (default: PyTorch's choice)")
    train.add_argument("--no-progress", action="store_true", help="no progress bars")
    train.set_defaults(handler=cmd_train)

    evaluate = commands.add_parser("evaluate", help="accuracy on the MNIST test set", formatter_class=_formatter)
    evaluate.add_argument("--model", default="cnn", help="shipped model name or checkpoint folder")
    evaluate.add_argument("--data-dir", help="MNIST folder (default: $DIGITREC_DATA_DIR, else the user cache)")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument("--report", metavar="DIR", help="write confusion, error and training-curve PNGs here")
    evaluate.add_argument(
        "--preprocess", action="store_true", help="pass each test image through the drawing preprocessing first"
    )
    evaluate.add_argument("--record", action="store_true", help="store the measured accuracy in the model's metadata")
    evaluate.add_argument("--threads", type=int, default=2, help="ONNX Runtime threads")
    evaluate.set_defaults(handler=cmd_evaluate)

    predict = commands.add_parser("predict", help="read the digit in image files", formatter_class=_formatter)
    predict.add_argument("images", nargs="+", metavar="IMAGE", help="PNG, JPEG, WebP, BMP or GIF files")
    predict.add_argument("--model", default="cnn", help="shipped model name or checkpoint folder")
    predict.add_argument("--json", action="store_true", help="one JSON object per image")
    predict.set_defaults(handler=cmd_predict)

    export = commands.add_parser("export", help="write a trained model as ONNX", formatter_class=_formatter)
    export.add_argument("--model", default="cnn", help="shipped model name or checkpoint folder")
    export.add_argument("--out", default="model.onnx", help="ONNX file to write")
    export.add_argument(
        "--quantize",
        action="store_true",
        help="write a static int8 graph of the model's model.onnx, calibrated on 512 MNIST images",
    )
    export.add_argument(
        "--serve",
        action="store_true",
        help="with --quantize and --out inside the model folder: serve that graph from now on",
    )
    export.add_argument("--data-dir", help="MNIST folder for calibration (default: $DIGITREC_DATA_DIR)")
    export.set_defaults(handler=cmd_export)

    data = commands.add_parser("data", help="get or check the MNIST files", formatter_class=_formatter)
    data_commands = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    download = data_commands.add_parser(
        "download", help="download MNIST from public mirrors", formatter_class=_formatter
    )
    download.add_argument("--dir", help="target folder (default: $DIGITREC_DATA_DIR, else the user cache)")
    download.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for a mirror")
    download.set_defaults(handler=cmd_data_download)
    verify = data_commands.add_parser("verify", help="check the SHA-256 of the MNIST files", formatter_class=_formatter)
    verify.add_argument("--dir", help="MNIST folder (default: $DIGITREC_DATA_DIR, else the user cache)")
    verify.set_defaults(handler=cmd_data_verify)

    serve = commands.add_parser("serve", help="start the web app and HTTP API", formatter_class=_formatter)
    serve.add_argument("--host", default=None, help="address to listen on (default: $DIGITREC_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default: $DIGITREC_PORT or 8000)")
    serve.add_argument(
        "--workers", type=int, default=None, help="worker processes (default: $DIGITREC_WORKERS or one per CPU core)"
    )
    serve.add_argument(
        "--model",
        action="append",
        metavar="NAME|PATH",
        help="model to serve (repeatable; the first is the default; default: all shipped models)",
    )
    serve.add_argument(
        "--db",
        help="where corrections are stored: database URL or SQLite file "
        "(default: $DIGITREC_DATABASE_URL, else a SQLite file in the user data folder)",
    )
    serve.add_argument("--log-level", default="info", help="uvicorn log level")
    serve.set_defaults(handler=cmd_serve)

    feedback = commands.add_parser("feedback", help="corrections stored by the web app", formatter_class=_formatter)
    feedback_commands = feedback.add_subparsers(dest="feedback_command", required=True, metavar="ACTION")
    stats = feedback_commands.add_parser(
        "stats", help="counts per label, per model, and the confusion", formatter_class=_formatter
    )
    stats.add_argument("--db", help="database URL or SQLite file (default: $DIGITREC_DATABASE_URL, else user data)")
    stats.set_defaults(handler=cmd_feedback_stats)
    export_feedback = feedback_commands.add_parser(
        "export", help="write the corrections as a dataset", formatter_class=_formatter
    )
    export_feedback.add_argument("--format", choices=["idx", "csv"], default="idx", help="IDX (gzip) or CSV")
    export_feedback.add_argument("--out", required=True, help="folder to write")
    export_feedback.add_argument("--db", help="database URL or SQLite file (default: $DIGITREC_DATABASE_URL)")
    export_feedback.set_defaults(handler=cmd_feedback_export)

    tune = commands.add_parser(
        "finetune", help="fine-tune a model on MNIST plus corrections", formatter_class=_formatter
    )
    tune.add_argument("--model", default="cnn", help="shipped model name or checkpoint folder to start from")
    tune.add_argument(
        "--extra-data",
        action="append",
        required=True,
        metavar="DIR",
        help="corrections exported by `digitrec feedback export` (repeatable)",
    )
    tune.add_argument("--out", default="runs/finetuned", help="checkpoint folder to write")
    tune.add_argument("--data-dir", help="MNIST folder (default: $DIGITREC_DATA_DIR, else the user cache)")
    tune.add_argument("--epochs", type=int, default=3, help="passes of 12,000 replayed MNIST images plus corrections")
    tune.add_argument("--lr", type=float, default=1e-4, help="learning rate")
    tune.add_argument("--holdout", type=float, default=0.2, help="share of corrections kept out to measure")
    tune.add_argument("--seed", type=int, default=0, help="random seed")
    tune.add_argument("--json", action="store_true", help="print the report as JSON")
    tune.set_defaults(handler=cmd_finetune)

    models = commands.add_parser("models", help="list the shipped models", formatter_class=_formatter)
    models.set_defaults(handler=cmd_models)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except DigitrecError as exc:
        print(f"digitrec: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("digitrec: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`digitrec ... | head`): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
