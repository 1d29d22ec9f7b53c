"""Which checkpoint answers for each served model name: `digitrec promote` and `rollback`.

A promoted candidate is copied into the serving folder (`<folder>/<name>/<version>/`, never
changed afterwards), and `served.json` names the checkpoint each name serves now and those it
served before. The file is replaced in one `os.replace`, so a worker reading it sees the old
state or the new one, never half of either. Running workers look at it every few seconds and
load what it names beside the model they serve, then swap (web/reloading.py): no restart.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digitrec.errors import DigitrecError
from digitrec.reading.card import METADATA_FILE, ONNX_FILE, ModelCard, resolve_model, version_of

SERVED_FILE = "served.json"
SERVING_DIR_ENV = "DIGITREC_SERVING_DIR"
# A candidate is served only with this verdict in its card (written by `digitrec finetune`);
# `promote --force` serves one without it.
BETTER = "better"


def serving_dir(explicit: str | Path | None = None) -> Path:
    """`--serving-dir`, else $DIGITREC_SERVING_DIR, else a folder in the user data folder."""
    chosen = explicit or os.environ.get(SERVING_DIR_ENV)
    if chosen:
        return Path(chosen).expanduser().resolve()
    from platformdirs import user_data_dir

    return Path(user_data_dir("digitrec")) / "serving"


@dataclass
class Entry:
    """One served name: the checkpoint serving it now (None: the model it was started with) and,
    newest last, those that served it before."""

    current: str | None = None
    history: list[str | None] = field(default_factory=list)
    changed_at: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"current": self.current, "history": self.history, "changed_at": self.changed_at}


class ServedModels:
    """The serving folder and its `served.json`."""

    def __init__(self, folder: str | Path | None = None) -> None:
        self.folder = serving_dir(folder)
        self.path = self.folder / SERVED_FILE

    def entries(self) -> dict[str, Entry]:
        try:
            raw = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise DigitrecError(f"{self.path} cannot be read ({exc}): fix or delete it") from None
        try:
            return {str(name): Entry(**value) for name, value in raw["models"].items()}
        except (KeyError, TypeError, AttributeError) as exc:
            raise DigitrecError(
                f"{self.path} is not what `digitrec promote` writes ({exc!r}): fix or delete it"
            ) from None

    def current(self, name: str, entries: dict[str, Entry] | None = None) -> Path | None:
        """The checkpoint promoted to serve `name`, or None for the one it was started with
        (from `entries` when the caller has read them already)."""
        entry = (self.entries() if entries is None else entries).get(name)
        return Path(entry.current) if entry is not None and entry.current else None

    def stamp(self) -> tuple[int, int] | None:
        """What changes when served.json is replaced (its inode and time), cheaply: a stat."""
        try:
            status = self.path.stat()
        except OSError:
            return None
        return status.st_ino, status.st_mtime_ns

    def promote(self, name: str, candidate: Path, force: bool = False) -> Path:
        """Serve `candidate` (a checkpoint folder) as `name` from now on; returns its copy."""
        folder = resolve_model(candidate)
        card = ModelCard.load(folder)
        if not force:
            self._check_verdict(name, folder, card)
        copy = self.folder / name / _copy_name(folder, card)
        if not (copy / METADATA_FILE).is_file():
            staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=self._made(self.folder / name)))
            shutil.copytree(folder, staging, dirs_exist_ok=True)
            os.sync()  # every file of the copy on disk before served.json may name it
            os.replace(staging, copy)
        entries = self.entries()
        entry = entries.get(name, Entry())
        if entry.current != str(copy):
            entry.history.append(entry.current)
            entry.current = str(copy)
        self._write(entries | {name: entry}, name)
        return copy

    def _check_verdict(self, name: str, folder: Path, card: ModelCard) -> None:
        """A candidate is served only with the verdict "better", reached against what `name`
        serves now (a verdict against a model since replaced says nothing of the new one)."""
        comparison = card.comparison or {}
        verdict = comparison.get("verdict")
        if verdict != BETTER:
            raise DigitrecError(
                f"{folder} is not known to be better than the served model (verdict: {verdict or 'none'}): "
                "`digitrec finetune` compares them; pass --force to serve it anyway"
            )
        against = comparison.get("served_version")
        now = self._version_serving(name)
        if against and now and against != now:
            raise DigitrecError(
                f"{folder} was compared with {against}, but {name} is served by {now} now: fine-tune again "
                "against it, or pass --force"
            )

    def _version_serving(self, name: str) -> str | None:
        """The version `name` answers with now, where it can be known here (a promoted copy, or a
        shipped model of that name)."""
        try:
            folder = self.current(name) or resolve_model(name)
            card = ModelCard.load(folder)
            return version_of(card, (folder / (card.serving_graph or ONNX_FILE)).read_bytes())
        except DigitrecError:
            return None

    def rollback(self, name: str) -> Path | None:
        """Serve `name` with what served it before the last promotion; returns that checkpoint
        (None: the model the server was started with)."""
        entries = self.entries()
        entry = entries.get(name)
        if entry is None or not entry.history:
            raise DigitrecError(f"nothing to roll back to: {name!r} serves the model it was started with")
        entry.current = entry.history.pop()
        self._write(entries | {name: entry}, name)
        return Path(entry.current) if entry.current else None

    def _write(self, entries: dict[str, Entry], changed: str) -> None:
        entries[changed].changed_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        body = json.dumps({"models": {k: v.as_dict() for k, v in entries.items()}}, indent=2) + "\n"
        handle, temporary = tempfile.mkstemp(prefix=".served-", dir=self._made(self.folder))
        os.fchmod(handle, 0o644)  # mkstemp's 0600 would hide it from a server run as another user
        with os.fdopen(handle, "w") as out:
            out.write(body)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self.path)

    @staticmethod
    def _made(folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        return folder


def _copy_name(folder: Path, card: ModelCard) -> str:
    """The promoted copy's folder: the version answers name (the card's name and the graph's
    hash) and a hash of its model.json, so that a recalibrated candidate is a new copy while the
    same checkpoint promoted twice reuses one."""
    graph = (folder / (card.serving_graph or ONNX_FILE)).read_bytes()
    return f"{version_of(card, graph)}-{hashlib.sha256((folder / METADATA_FILE).read_bytes()).hexdigest()[:8]}"
