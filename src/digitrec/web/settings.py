"""One Settings object, read from flags and DIGITREC_* environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields

from digitrec.checkpoint import DEFAULT_MODEL, shipped_models


def _models_default() -> list[str]:
    return shipped_models()


def available_cores() -> int:
    """The CPU cores this process may run on (a container's limit, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    # Requests are CPU-bound (decode, preprocess, model on one thread each), so one worker
    # process per core is the fastest; 2 cores give twice the requests/s of 1 (BENCHMARKS.md).
    workers: int = field(default_factory=available_cores)
    default_model: str = DEFAULT_MODEL
    # Names of shipped models or checkpoint folders to serve; the first one is the default.
    models: list[str] = field(default_factory=_models_default)
    max_body_bytes: int = 2 * 1024 * 1024
    max_batch: int = 256
    max_pixels: int = 4096 * 4096
    threads: int = 1  # ONNX Runtime threads per request
    # Where corrections are stored (see digitrec.feedback); empty: a SQLite file in the user data folder.
    database_url: str = ""
    # The /feedback page is on only when a token is set; requests must carry it.
    admin_token: str = ""

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """DIGITREC_PORT=9000 and so on; explicit overrides (from CLI flags) win."""
        values: dict[str, object] = {}
        for spec in fields(cls):
            raw = os.environ.get(f"DIGITREC_{spec.name.upper()}")
            if raw is None:
                continue
            if spec.name == "models":
                values[spec.name] = [name for name in raw.split(",") if name]
            elif spec.type in ("int", int):
                values[spec.name] = int(raw)
            else:
                values[spec.name] = raw
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)  # type: ignore[arg-type]

    def to_env(self) -> dict[str, str]:
        """The inverse of from_env, so worker processes started by uvicorn build the same app."""
        env = {f"DIGITREC_{spec.name.upper()}": str(getattr(self, spec.name)) for spec in fields(self)}
        env["DIGITREC_MODELS"] = ",".join(self.models)
        return env
