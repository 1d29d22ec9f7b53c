"""One Settings object, read from flags and DIGITREC_* environment variables (pydantic-settings)."""

from __future__ import annotations

import os
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from digitrec.reading.box import Limits
from digitrec.reading.card import DEFAULT_MODEL, shipped_models
from digitrec.reading.decode import Budget


def available_cores() -> int:
    """The CPU cores this process may run on (a container's limit, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DIGITREC_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    # Requests are CPU-bound (decode, preprocess, model on one thread each), so one worker
    # process per core is the fastest; 2 cores give twice the requests/s of 1 (BENCHMARKS.md).
    workers: int = Field(default_factory=available_cores, ge=1)
    default_model: str = DEFAULT_MODEL
    # Names of shipped models or checkpoint folders to serve; the first one is the default.
    # NoDecode: the variable is a comma-separated list, not JSON.
    models: Annotated[list[str], NoDecode] = Field(default_factory=shipped_models)
    max_body_bytes: int = 2 * 1024 * 1024
    # A batch costs about a millisecond of CPU per canvas-sized drawing: 32 of them keep one
    # request within the 50 ms any request may cost (raise both for bigger batches, at that cost).
    max_batch: int = 32
    max_pixels: int = 4096 * 4096  # decoded pixels in one image
    # All the images of one batch together: 32 canvases of 280x280 (a 1 Mpx image alone costs
    # 25-40 ms to decode and read).
    max_batch_pixels: int = 32 * 280 * 280
    # Strokes JSON: the page sends at most ~1000x600 with a pen of 2-40 px and a few thousand points.
    max_canvas_side: int = 4096
    max_stroke_points: int = 5_000  # as decode.Budget.max_points: counted before any point is checked
    threads: int = 1  # ONNX Runtime threads per request
    # Requests read at once per worker process (threads off the event loop), and the box's
    # decoding processes per worker (reading/box.py); the rest wait their turn.
    reading_threads: int = Field(default=4, ge=1, le=64)
    decode_processes: int = Field(default=2, ge=1, le=32)
    # The box's hard limits on one decode: CPU seconds, wall seconds, MiB of address space.
    decode_cpu_seconds: float = Field(default=0.5, gt=0)
    decode_wall_seconds: float = Field(default=2.0, gt=0)
    decode_memory_mib: int = Field(default=320, ge=64)
    # Values of the `pixels` form in one request (a batch's together), counted before the JSON
    # is parsed: parsing and validating a value costs ~0.7 us, so 160,000 (two arrays of the
    # page's 280x280 pad) bound its cost to ~110 ms, off the event loop; send bigger as PNG.
    max_pixel_values: int = Field(default=160_000, ge=1)
    # Where promoted models live (served.json names which answers for each name, store/served.py);
    # empty: $DIGITREC_SERVING_DIR, else a folder in the user data folder. Workers look at it every
    # `reload_seconds` (0: never; a promotion then needs a restart).
    serving_dir: str = ""
    reload_seconds: float = Field(default=2.0, ge=0)
    # Where corrections are stored (see digitrec.store.feedback); empty: a SQLite file in the user data folder.
    database_url: str = ""
    # The /feedback page is on only when a token (16 characters or more) is set.
    admin_token: str = ""
    feedback_page_size: int = Field(default=50, ge=1, le=500)
    # Answers one download from the page may hold: each is 784 bytes of image (built in memory,
    # so 50,000 take ~40 MB while the archive is made); past it, 413 (`digitrec feedback export`
    # has no bound).
    download_max_rows: int = Field(default=50_000, ge=1)
    # Per-client limit on POST /api/feedback, in the `limits` notation ("30/minute"); empty: off.
    # On by default: a stored answer is up to ~100 kB, and unlimited one client stored 5.4 GiB an hour.
    feedback_rate_limit: str = "60/minute"
    # Answers the store keeps at most (each under ~100 kB: 200,000 are at most ~20 GB); 0: no cap.
    max_stored: int = Field(default=200_000, ge=0)
    # The secret undo tokens are signed with (32+ characters); empty: one generated once and kept
    # in the database (table server_secrets), which every replica using the database shares.
    undo_secret: str = ""
    # Origins (scheme://host:port) whose pages may post answers besides this server's own page.
    allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    metrics_enabled: bool = True
    # One line per request on stderr (web/requestlog.py): text, json, or off.
    request_log: Literal["text", "json", "off"] = "text"
    # Slow clients: a request's head must arrive within `header_timeout` seconds, the whole
    # request (head and body) within `request_timeout`.
    header_timeout: float = Field(default=5.0, gt=0)
    request_timeout: float = Field(default=20.0, gt=0)
    keep_alive_timeout: int = Field(default=5, ge=1)
    # Open connections per worker; new ones beyond it are refused (503), those open served on.
    max_connections: int = Field(default=512, ge=1)
    # A request's head (request line and headers): bytes and headers, else 431. Browsers send
    # under 2 kB and 20 headers; nginx's own default buffers take 32 kB.
    max_header_bytes: int = Field(default=32 * 1024, ge=1024)
    max_headers: int = Field(default=100, ge=10)

    @field_validator("models", "allowed_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        return [name for name in value.split(",") if name] if isinstance(value, str) else value

    def box_limits(self) -> Limits:
        return Limits(
            cpu_seconds=self.decode_cpu_seconds,
            wall_seconds=self.decode_wall_seconds,
            memory_bytes=self.decode_memory_mib * 1024 * 1024,
            workers=self.decode_processes,
        )

    def budget(self) -> Budget:
        """The one budget a drawing is read within: these settings' limits, decode's defaults
        for the rest."""
        return Budget(max_pixels=self.max_pixels, max_side=self.max_canvas_side, max_points=self.max_stroke_points)

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """DIGITREC_PORT=9000 and so on; explicit overrides (from CLI flags) win."""
        return cls(**{key: value for key, value in overrides.items() if value is not None})  # type: ignore[arg-type]

    def to_env(self) -> dict[str, str]:
        """The inverse of from_env, so worker processes started by uvicorn build the same app."""
        env = {f"DIGITREC_{name.upper()}": str(value) for name, value in self.model_dump().items()}
        env["DIGITREC_MODELS"] = ",".join(self.models)
        env["DIGITREC_ALLOWED_ORIGINS"] = ",".join(self.allowed_origins)
        return env
