"""Corrections from users, stored through SQLAlchemy (SQLite by default, PostgreSQL by URL).

The schema is owned by Alembic migrations (`digitrec/migrations`); `open_store` brings a database
to the newest revision before use. Every write is committed before it is acknowledged, and SQLite
runs with a write-ahead log and synchronous=FULL, so a killed server loses no acknowledged row.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import DateTime, Integer, LargeBinary, String, create_engine, event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from digitrec.errors import DigitrecError

DATABASE_URL_ENV = "DIGITREC_DATABASE_URL"


class Base(DeclarativeBase):
    pass


class Correction(Base):
    __tablename__ = "corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    label: Mapped[int] = mapped_column(Integer)
    predicted: Mapped[int | None] = mapped_column(Integer, nullable=True)
    model: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[str] = mapped_column(String(200))
    # The 28x28 model input as 784 bytes (0-255): what a fine-tune trains on.
    input: Mapped[bytes] = mapped_column(LargeBinary)
    # The drawing as the user sent it, as PNG, so that corrections can be re-preprocessed later.
    image_png: Mapped[bytes] = mapped_column(LargeBinary)


@dataclass
class Stats:
    total: int
    per_label: dict[int, int]
    per_model: dict[str, int]
    confusion: dict[tuple[int | None, int], int]  # (predicted, corrected label) -> count


def default_database_url() -> str:
    from platformdirs import user_data_dir

    folder = Path(user_data_dir("digitrec"))
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'feedback.db'}"


def resolve_database_url(explicit: str | None = None) -> str:
    """`--db`, else $DIGITREC_DATABASE_URL, else a SQLite file in the user data folder.
    A plain path is taken as a SQLite file."""
    url = explicit or os.environ.get(DATABASE_URL_ENV) or default_database_url()
    return url if "://" in url else f"sqlite:///{Path(url).expanduser().resolve()}"


def _durable_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def set_pragmas(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


def migrate(url: str) -> None:
    """Bring the database to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "head")


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.engine = create_engine(url, pool_pre_ping=True)
        except Exception as exc:  # bad URL or missing driver: say which
            raise DigitrecError(f"cannot use database {url!r}: {exc}") from exc
        if self.engine.dialect.name == "sqlite":
            _durable_sqlite(self.engine)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    def add(
        self,
        *,
        label: int,
        predicted: int | None,
        model: str,
        model_version: str,
        model_input: np.ndarray,
        image_png: bytes,
    ) -> Correction:
        row = Correction(
            created_at=dt.datetime.now(dt.UTC),
            label=label,
            predicted=predicted,
            model=model,
            model_version=model_version,
            input=np.clip(np.round(np.asarray(model_input) * 255), 0, 255).astype(np.uint8).tobytes(),
            image_png=image_png,
        )
        with self.sessions.begin() as session:
            session.add(row)
        return row

    def recent(self, limit: int = 100) -> list[Correction]:
        with Session(self.engine) as session:
            return list(session.scalars(select(Correction).order_by(Correction.id.desc()).limit(limit)))

    def count(self) -> int:
        with Session(self.engine) as session:
            return int(session.scalar(select(func.count()).select_from(Correction)) or 0)

    def ids(self) -> set[int]:
        with Session(self.engine) as session:
            return set(session.scalars(select(Correction.id)))

    def dataset(self) -> tuple[np.ndarray, np.ndarray]:
        """All corrections as MNIST-style uint8 images (N, 28, 28) and labels, oldest first."""
        with Session(self.engine) as session:
            rows = session.execute(select(Correction.input, Correction.label).order_by(Correction.id)).all()
        images = np.array([np.frombuffer(r.input, dtype=np.uint8).reshape(28, 28) for r in rows], dtype=np.uint8)
        return images.reshape(-1, 28, 28), np.array([r.label for r in rows], dtype=np.int64)

    def stats(self) -> Stats:
        with Session(self.engine) as session:
            rows = session.execute(select(Correction.label, Correction.predicted, Correction.model)).all()
        return Stats(
            total=len(rows),
            per_label=dict(sorted(Counter(r.label for r in rows).items())),
            per_model=dict(sorted(Counter(r.model for r in rows).items())),
            confusion=dict(Counter((r.predicted, r.label) for r in rows)),
        )

    def close(self) -> None:
        self.engine.dispose()


def open_store(url: str | None = None) -> Store:
    resolved = resolve_database_url(url)
    try:
        migrate(resolved)
    except Exception as exc:  # connection refused, bad credentials, read-only file...
        raise DigitrecError(f"cannot open the feedback database {resolved!r}: {exc}") from exc
    return Store(resolved)
