"""Commands that run the service and look at what it stored: serve, promote and rollback,
feedback stats and export."""

from __future__ import annotations

import argparse
import errno
import os
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from digitrec.cli.common import MIN_CORRECTIONS, check_folder_to_write, fail, masked, open_store, positive
from digitrec.errors import DigitrecError

if TYPE_CHECKING:
    from digitrec.store.feedback import Stats, Tally


def add(commands: Any, shared: dict[str, argparse.ArgumentParser]) -> None:
    add_serve(commands, shared)
    add_promotion(commands)
    add_feedback(commands, shared)


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


def add_promotion(commands: Any) -> None:
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument(
        "--serving-dir",
        metavar="DIR",
        help="where promoted models live (default: $DIGITREC_SERVING_DIR, else the user data folder)",
    )
    promote = commands.add_parser(
        "promote",
        help="serve a fine-tuned candidate from now on; running servers switch within seconds",
        parents=[where],
    )
    promote.add_argument("candidate", metavar="FOLDER", help="a checkpoint folder written by `digitrec finetune`")
    promote.add_argument(
        "--as", dest="name", default="cnn", metavar="NAME", help="the served model name it answers for"
    )
    promote.add_argument(
        "--force", action="store_true", help="serve it without the verdict 'better' from `digitrec finetune`"
    )
    promote.set_defaults(handler=cmd_promote)
    rollback = commands.add_parser(
        "rollback", help="serve NAME with what served it before the last promotion", parents=[where]
    )
    rollback.add_argument("name", nargs="?", default="cnn", metavar="NAME", help="the served model name")
    rollback.set_defaults(handler=cmd_rollback)


def cmd_promote(args: argparse.Namespace) -> int:
    from digitrec.store.served import ServedModels

    served = ServedModels(args.serving_dir)
    copy = served.promote(args.name, Path(args.candidate), force=args.force)
    print(f"{args.name} is now served by {copy}; running servers switch within seconds ({served.path})")
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    from digitrec.store.served import ServedModels

    served = ServedModels(args.serving_dir)
    now = served.rollback(args.name)
    print(f"{args.name} is now served by {now or 'the model servers were started with'} ({served.path})")
    return 0


def add_feedback(commands: Any, shared: dict[str, argparse.ArgumentParser]) -> None:
    feedback = commands.add_parser("feedback", help="corrections stored by the web app")
    actions = feedback.add_subparsers(dest="feedback_command", required=True, metavar="ACTION")
    stats = actions.add_parser("stats", help="counts per label, per model, and the confusion", parents=[shared["db"]])
    stats.set_defaults(handler=cmd_feedback_stats)
    export = actions.add_parser("export", help="write the corrections as a dataset", parents=[shared["db"]])
    export.add_argument("--format", choices=["idx", "csv"], default="idx", help="gzip IDX files, as MNIST's, or CSV")
    export.add_argument("--out", required=True, metavar="DIR", help="folder to write")
    export.set_defaults(handler=cmd_feedback_export)


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
    from digitrec.store.feedback import DATABASE_URL_ENV, resolve_database_url
    from digitrec.store.served import ServedModels
    from digitrec.web.app import create_app, load_predictors

    settings = serve_settings(args)
    if settings.workers < 1:
        fail(f"{settings.workers} workers: serve needs at least 1")
    # An unknown or unreadable model fails here, in one line, before anything says it serves.
    predictors = load_predictors(settings, ServedModels(settings.serving_dir or None))
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
    try:
        stats = store.stats()
    finally:
        store.close()
    print("\n".join(stats_lines(stats)))
    return 0


def stats_lines(stats: Stats) -> list[str]:
    """A confirmation ("Right!") counts for its model's accuracy, never as an "a -> a" correction."""

    def listed(counts: dict[Any, int]) -> str:
        return ", ".join(f"{k}: {v}" for k, v in counts.items()) or "none"

    def judged(tally: Tally) -> str:
        return f"{tally.accuracy:.1%} right ({tally.right} of {tally.right + tally.wrong})"

    lines = [f"total: {stats.total}", f"per label: {listed(stats.per_label)}", f"per model: {listed(stats.per_model)}"]
    lines.append(f"per kind: {listed(stats.per_kind)}")
    lines.append("accuracy per model version (confirmed / confirmed or corrected):")
    lines += [f"  {model}: {judged(tally)}" for model, tally in stats.accuracy.items()] or ["  none judged"]
    lines.append("per week (from its Monday):")
    weeks = [f"  {week:%Y-%m-%d} {model}: {judged(tally)}" for (week, model), tally in stats.weekly.items()]
    lines += weeks or ["  none judged"]
    lines.append("predicted -> corrected (corrections only):")
    for (predicted, label), count in sorted(stats.confusion.items(), key=lambda kv: (-kv[1], str(kv[0]))):
        lines.append(f"  {'-' if predicted is None else predicted} -> {label}: {count}")
    return lines


def cmd_feedback_export(args: argparse.Namespace) -> int:
    out = Path(args.out)
    check_folder_to_write(out, "--out")
    store = open_store(args.db)
    try:
        if not store.count():
            fail(f'no corrections in {masked(store.url)} yet: nothing to export (they come from the page\'s "Wrong?")')
        written, files = store.export(out, args.format)
    finally:
        store.close()
    print(f"exported {written} corrections to {out} ({', '.join(files)})")
    if written < MIN_CORRECTIONS:
        print(f"digitrec: note: `digitrec finetune` needs at least {MIN_CORRECTIONS} corrections", file=sys.stderr)
    return 0
