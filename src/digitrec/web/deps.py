"""What the routers depend on: the registry of readers, the settings, the store, the metrics,
and per-client throttles."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import Depends, HTTPException, Request
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from digitrec.errors import DigitrecError, StoreUnavailable
from digitrec.reading.reader import Reader
from digitrec.store.feedback import UNAVAILABLE, Store
from digitrec.web.metrics import Metrics
from digitrec.web.reloading import Reloader
from digitrec.web.settings import Settings


@dataclass
class Registry:
    """The models this server answers with, by the name clients use (never a file path)."""

    models: dict[str, Reader]
    default: str
    reloader: Reloader | None = None

    @classmethod
    def of(cls, readers: dict[str, Reader], wanted_default: str) -> Registry:
        # A checkpoint folder is named by its last part: its path is nobody's business.
        models = {public_name(name): r for name, r in readers.items()}
        default = public_name(wanted_default) if public_name(wanted_default) in models else next(iter(models))
        return cls(models, default)

    def swap(self, name: str, reader: Reader) -> None:
        """Serve `reader` as `name` from the next request on: one assignment of a new dict, so a
        request sees the old models or the new ones (web/reloading.py)."""
        self.models = {**self.models, name: reader}

    def get(self, name: str | None) -> tuple[str, Reader]:
        chosen = name or self.default
        if chosen not in self.models:
            raise HTTPException(
                404, f"unknown model {chosen!r}: choose one of {', '.join(self.models)} (see /api/models)"
            )
        return chosen, self.models[chosen]


class Throttle:
    """At most `rule` (the `limits` notation: "30/minute") per key, in this worker's memory;
    an empty rule lets everything through."""

    def __init__(self, rule: str) -> None:
        try:
            self.item: RateLimitItem | None = parse(rule) if rule else None
        except ValueError as exc:
            raise DigitrecError(f'cannot read the rate limit {rule!r}: write it like "30/minute"') from exc
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    def allow(self, key: str) -> bool:
        return self.item is None or self.limiter.hit(self.item, key)

    def seconds_to_wait(self, key: str) -> int:
        if self.item is None:
            return 0
        reset = self.limiter.get_window_stats(self.item, key).reset_time
        return max(1, int(reset - time.time()) + 1)


T = TypeVar("T")


class Work:
    """The threads a worker process reads drawings in: a small, fixed number (the settings'
    `reading_threads`), so that the event loop only parses HTTP and a burst of costly requests
    waits its turn instead of taking 40 threads' worth of memory. Decoding itself goes on in
    the box's processes (reading/box.py); these threads wait for it, preprocess and run the
    model (ONNX Runtime and numpy release the GIL)."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self.limiter: anyio.CapacityLimiter | None = None  # made in the loop, at first use

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        if self.limiter is None:
            self.limiter = anyio.CapacityLimiter(self.threads)
        return await anyio.to_thread.run_sync(functools.partial(function, *args), limiter=self.limiter)


async def off_loop(request: Request, function: Callable[..., T], *args: Any) -> T:
    """`function(*args)` in one of the app's reading threads, the event loop free meanwhile."""
    work: Work = request.app.state.work
    return await work.run(function, *args)


def client_key(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def public_name(reference: str) -> str:
    return Path(reference).name if ("/" in reference or "\\" in reference) else reference


# The dependencies are `async def` though they do not await: FastAPI runs a plain `def`
# dependency in its thread pool, and three such hops per request took a third of its time.
async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_registry(request: Request) -> Registry:
    return current_registry(request)


def current_registry(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    if registry.reloader is not None:
        registry.reloader.poll(registry.swap)
    return registry


def reading_state(request: Request) -> tuple[Settings, Registry, Metrics]:
    """What `/api/predict` reads with, taken without FastAPI's dependency resolution: resolving
    the three took 3-4% of a canvas PNG request's CPU (py-spy, 2026-12-07), the hottest route."""
    return request.app.state.settings, current_registry(request), request.app.state.metrics


async def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


async def get_store(request: Request) -> Store:
    store: Store | None = request.app.state.store
    if store is None:  # the database could not be opened at start; reading digits still works
        raise StoreUnavailable(UNAVAILABLE)
    return store


SettingsDep = Annotated[Settings, Depends(get_settings)]
RegistryDep = Annotated[Registry, Depends(get_registry)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
StoreDep = Annotated[Store, Depends(get_store)]
