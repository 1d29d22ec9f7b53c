"""Running workers serve what `digitrec promote` and `rollback` name, with no restart and
no failed request.

Each worker looks at served.json (store/served.py) at most every `every` seconds, from a request
on the event loop: one stat, a few microseconds. When the file was replaced, the models it names
load in a thread while the old ones go on answering; then the registry's models are replaced in
one assignment. A request that took the old reader finishes with it; the next takes the new one.
A checkpoint that cannot be loaded (or a served.json that cannot be read) is logged and the old
model serves on, until served.json is replaced again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

from digitrec.errors import DigitrecError
from digitrec.reading.reader import Reader
from digitrec.store.served import ServedModels

log = logging.getLogger("digitrec.web.reloading")
Loader = Callable[[str | Path], Reader]


class Reloader:
    def __init__(
        self, served: ServedModels, started_with: dict[str, str], loaded: dict[str, str], load: Loader, every: float
    ) -> None:
        """`started_with`: each served name and the model the worker was started with for it,
        which it serves again when served.json names nothing for it (after a rollback);
        `loaded`: what each serves now."""
        self.served = served
        self.started_with = started_with
        self.load = load
        self.every = every
        self.loaded = dict(loaded)
        self.stamp: tuple[int, int] | None = None  # the first look compares what is loaded
        self.checked = time.monotonic()
        self.pending: asyncio.Future[None] | None = None

    def poll(self, swap: Callable[[str, Reader], None]) -> None:
        """Called on the event loop by every request that reads a model; cheap unless served.json
        was replaced, and then the loading goes on in a thread."""
        if self.every <= 0 or time.monotonic() - self.checked < self.every:
            return
        if self.pending is not None and not self.pending.done():
            return
        self.checked = time.monotonic()
        stamp = self.served.stamp()
        if stamp != self.stamp:
            self.stamp = stamp
            self.pending = asyncio.get_running_loop().run_in_executor(None, self.reload, swap)

    def reload(self, swap: Callable[[str, Reader], None]) -> None:
        """Load what served.json names now, for each name whose checkpoint changed, and swap it in."""
        try:
            entries = self.served.entries()  # read once: every name from the same state of the file
        except DigitrecError as exc:
            log.error("the served models stay as they were: %s", exc)
            return
        for name, model in self.started_with.items():
            try:
                wanted = str(self.served.current(name, entries) or model)
                if wanted == self.loaded[name]:
                    continue
                reader = self.load(wanted)
            except Exception as exc:  # any failure to load, ours or a library's: keep serving
                log.error("%s stays as it was: %s", name, exc if isinstance(exc, DigitrecError) else repr(exc))
                continue
            swap(name, reader)
            self.loaded[name] = wanted
            log.info("%s now answers with %s", name, reader.version)
