"""Corrections from users, stored through SQLAlchemy (SQLite by default, PostgreSQL by URL).

The schema is owned by Alembic migrations (`digitrec/migrations`); `open_store` brings a database
to the newest revision before use. Every write is committed before it is acknowledged, and SQLite
runs with a write-ahead log and synchronous=FULL, so a killed server loses no acknowledged row.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import io
import logging
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from sqlalchemy import DateTime, Integer, LargeBinary, String, create_engine, delete, event, func, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from digitrec.errors import DigitrecError, InputError, StoreFull, StoreUnavailable, TooLargeError
from digitrec.reading.idx import write_dataset
from digitrec.reading.preprocess import ink_image

DATABASE_URL_ENV = "DIGITREC_DATABASE_URL"
UNAVAILABLE = "feedback store unavailable"
# A stored drawing fits in this square: an 8-bit PNG of it is at most ~66 kB, so that a row
# (with the 784-byte model input) stays under 100 kB whatever was uploaded.
DRAWING_SIDE = 256
# The label stored for "not a digit" (a stray mark of a number): the class index of "not a digit"
# in the models that have one (learning.drawings.NOT_A_DIGIT), so an export trains them as it is.
NOT_A_DIGIT = 10
log = logging.getLogger("digitrec.store.feedback")


class Base(DeclarativeBase):
    pass


class Correction(Base):
    __tablename__ = "corrections"
    __table_args__ = {"sqlite_autoincrement": True}  # ids are never reused (migration 0003)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    label: Mapped[int] = mapped_column(Integer)
    predicted: Mapped[int | None] = mapped_column(Integer, nullable=True)
    model: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[str] = mapped_column(String(200))
    # The 28x28 model input as 784 bytes (0-255): what a fine-tune trains on.
    input: Mapped[bytes] = mapped_column(LargeBinary)
    # The drawing's ink (dark on white), reduced to fit DRAWING_SIDE, as PNG: enough to
    # re-preprocess a correction later, and bounded whatever was uploaded.
    image_png: Mapped[bytes] = mapped_column(LargeBinary)
    # The page's key for this answer (migration 0005): sent again, the answer is stored once.
    client_key: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    # "correction" (the model was wrong) or "confirmation" (the user said it was right).
    kind: Mapped[str] = mapped_column(String(20), default="correction", server_default="correction")
    # The rows stored from one reading of a whole number (one per digit box) share this random id
    # (migration 0004); a single digit's answer has none.
    reading: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)


class ServerSecret(Base):
    """Secrets the server signs with, generated once and shared by every process using the
    database (migration 0003)."""

    __tablename__ = "server_secrets"
    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary)


KINDS = ("correction", "confirmation")


@dataclass(frozen=True)
class Filter:
    """Which answers an admin means; each field set narrows the choice (None: any). `ids` are
    the rows checked on the page (an empty tuple matches none). `where` is the one query builder
    that the page's list and count, its delete and download, the export and the stats all use."""

    label: int | None = None
    predicted: int | None = None
    model: str | None = None
    kind: str | None = None
    since: dt.date | None = None  # from this day on (UTC)
    until: dt.date | None = None  # up to this day, itself included (UTC)
    ids: tuple[int, ...] | None = None

    def where(self) -> list[ColumnElement[bool]]:
        fields = {"label": self.label, "predicted": self.predicted, "model": self.model, "kind": self.kind}
        clauses = [getattr(Correction, name) == value for name, value in fields.items() if value is not None]
        if self.since is not None:
            clauses.append(Correction.created_at >= _midnight(self.since))
        if self.until is not None:
            clauses.append(Correction.created_at < _midnight(self.until + dt.timedelta(days=1)))
        if self.ids is not None:
            clauses.append(Correction.id.in_(self.ids))
        return clauses


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


@dataclass
class Tally:
    """A model's answers that people judged: `right` confirmed, `wrong` corrected."""

    right: int = 0
    wrong: int = 0

    @property
    def accuracy(self) -> float:
        return self.right / (self.right + self.wrong) if self.right + self.wrong else 0.0


@dataclass
class Stats:
    total: int
    per_kind: dict[str, int]
    per_label: dict[int, int]
    per_model: dict[str, int]
    # Corrections only: a confirmation is no confusion. (predicted, corrected label) -> count.
    confusion: dict[tuple[int | None, int], int]
    accuracy: dict[str, Tally]  # per model version, over the answers judged
    weekly: dict[tuple[dt.date, str], Tally]  # (the week's Monday, model version) -> its tally


def judged(rows: Sequence[Any]) -> tuple[dict[str, Tally], dict[tuple[dt.date, str], Tally]]:
    """Per model version (a promotion serves a new one under the same name), and per version and
    week: how often people confirmed its reading (right) or corrected it (wrong). A Digit-mode
    answer without the model's reading (no `predicted`) says nothing of the model and is left
    out; a Number-mode box the model left out as no digit (`predicted` null, `reading` set) is
    its reading too."""
    overall: dict[str, Tally] = {}
    weekly: dict[tuple[dt.date, str], Tally] = {}
    for row in rows:
        if row.predicted is None and row.reading is None:
            continue
        day = (row.created_at.astimezone(dt.UTC) if row.created_at.tzinfo else row.created_at).date()
        week = day - dt.timedelta(days=day.weekday())
        version = row.model_version
        for tally in (overall.setdefault(version, Tally()), weekly.setdefault((week, version), Tally())):
            if row.kind == "confirmation":
                tally.right += 1
            else:
                tally.wrong += 1
    return dict(sorted(overall.items())), dict(sorted(weekly.items()))


def redact(url: str) -> str:
    """A database URL fit for a log line: no password (and nothing at all if it cannot be parsed)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparseable URL may still hold a password: show none of it
        return "<a database URL that cannot be parsed>"


def scrub(text: str, url: str) -> str:
    """`text` (a driver's error message) without the URL or its password."""
    text = text.replace(url, redact(url))
    try:
        password = make_url(url).password
    except Exception:
        password = None
    return text.replace(str(password), "***") if password else text


def drawing_png(picture: Image.Image | np.ndarray) -> bytes:
    """Any decoded upload (CMYK, 16-bit, float TIFF...) -> its ink, dark on white, at most
    DRAWING_SIDE on a side, as an 8-bit grayscale PNG."""
    return ink_png(ink_image(picture))


def ink_png(ink: Image.Image | np.ndarray) -> bytes:
    """Ink already found (8-bit, 255 where there is ink: `ink_image`, or one digit's crop of a
    number) -> dark on white, at most DRAWING_SIDE on a side, as an 8-bit grayscale PNG."""
    ink = ink.copy() if isinstance(ink, Image.Image) else Image.fromarray(np.asarray(ink, dtype=np.uint8))
    ink.thumbnail((DRAWING_SIDE, DRAWING_SIDE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    Image.eval(ink, lambda v: 255 - v).save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def new_correction(
    *,
    label: int,
    predicted: int | None,
    model: str,
    model_version: str,
    model_input: np.ndarray,
    image_png: bytes,
    kind: str = "correction",
    reading: str | None = None,
    client_key: str | None = None,
) -> Correction:
    """A row to store (`Store.add_rows`): the 28x28 input (floats 0-1) kept as 784 bytes."""
    return Correction(
        created_at=dt.datetime.now(dt.UTC),
        label=label,
        predicted=predicted,
        kind=kind,
        model=model,
        model_version=model_version,
        input=np.clip(np.round(np.asarray(model_input) * 255), 0, 255).astype(np.uint8).tobytes(),
        image_png=image_png,
        reading=reading,
        client_key=client_key,
    )


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
    try:
        command.upgrade(config, "head")
    except Exception as exc:  # connection refused, bad credentials, read-only file...
        raise DigitrecError(f"cannot open the feedback database {redact(url)}: {scrub(str(exc), url)}") from None


def undo_token(row: Correction, secret: bytes) -> str:
    """A token only the poster of an answer knows: an HMAC of the row's id and its 28x28 input
    under the server's secret, so that no one else can take a stored answer back or replace
    it, even knowing both (`include_input` shows the input, ids are counted)."""
    message = str(row.id).encode() + b":" + bytes(row.input)
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:32]


class _KeepAll(Exception):
    def __init__(self, missing: list[int]) -> None:
        self.missing = missing


MAX_ID = 2**63 - 1  # the largest id a database integer holds; a path past it is a 4xx


class Store:
    """`secret` signs undo tokens: given (DIGITREC_UNDO_SECRET), else generated once and kept in
    the database itself, so that replicas sharing a database share it. `max_rows` caps the
    answers stored (0: no cap)."""

    def __init__(self, url: str, secret: bytes | None = None, max_rows: int = 0) -> None:
        self.url = url
        self.max_rows = max_rows
        self._secret = secret
        try:
            self.engine = create_engine(url, pool_pre_ping=True)
        except Exception as exc:  # bad URL or missing driver: say which
            raise DigitrecError(f"cannot use database {redact(url)}: {scrub(str(exc), url)}") from None
        if self.engine.dialect.name == "sqlite":
            _durable_sqlite(self.engine)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    def add_keyed(self, row: Correction, replaces: Sequence[tuple[int, str]] = ()) -> Correction:
        """Store one answer sent with the page's key: sent again (its first answer was lost on
        the way back), the row stored the first time is the answer, and nothing is stored twice.
        The same key with another answer is refused."""
        for _ in range(2):
            found = self._keyed(str(row.client_key))
            if found is not None:
                if (bytes(found.input), found.label, found.kind) != (bytes(row.input), row.label, row.kind):
                    raise InputError("`key`: another answer was stored with this key; send a new key for a new answer")
                return found
            try:
                return self.add_rows([row], replaces, reachable=False)[0]
            except IntegrityError:  # the same key, stored by a request running beside this one
                continue
            except SQLAlchemyError:
                with self._reachable():
                    raise
        raise StoreUnavailable(UNAVAILABLE)

    def _keyed(self, key: str) -> Correction | None:
        with self._reachable(), Session(self.engine, expire_on_commit=False) as session:
            return session.scalar(select(Correction).where(Correction.client_key == key))

    def add_rows(
        self, rows: list[Correction], replaces: Sequence[tuple[int, str]] = (), reachable: bool = True
    ) -> list[Correction]:
        """Store answers in one transaction, all or none; the earlier answers in `replaces`
        (id, undo token) go in it too, so a changed mind never leaves two rows for one thing.
        `reachable=False` leaves database errors as they are (add_keyed reads an IntegrityError)."""
        with self._reachable() if reachable else contextlib.nullcontext(), self.sessions.begin() as session:
            for row_id, token in replaces:
                if not self._delete_in(session, row_id, token):
                    raise InputError(f"`replaces`: there is no answer #{row_id} with that undo token")
            stored = self._count_in(session) if self.max_rows else 0
            if self.max_rows and stored + len(rows) > self.max_rows:
                raise StoreFull(
                    f"the corrections store is full ({self.max_rows:,} answers): an admin must export and "
                    "clear it (or raise DIGITREC_MAX_STORED) before more are taken"
                )
            session.add_all(rows)
        return rows

    @property
    def secret(self) -> bytes:
        if self._secret is None:
            with self._reachable():
                self._secret = self._stored_secret()
        return self._secret

    def _stored_secret(self) -> bytes:
        """The database's undo secret, made by whichever process asks first."""
        for _ in range(2):
            try:
                with self.sessions.begin() as session:
                    found = session.get(ServerSecret, "undo")
                    if found is not None:
                        return bytes(found.value)
                    value = os.urandom(32)
                    session.add(ServerSecret(name="undo", value=value))
                return value
            except IntegrityError:  # another process made it first: read theirs
                continue
        raise StoreUnavailable(UNAVAILABLE)

    def token(self, row: Correction) -> str:
        return undo_token(row, self.secret)

    def delete(self, row_id: int, token: str) -> bool:
        """Take an answer back (the page's Undo); only with the token its poster was given."""
        with self._reachable(), self.sessions.begin() as session:
            return self._delete_in(session, row_id, token)

    def delete_rows(self, answers: list[tuple[int, str]]) -> list[int]:
        """Take several answers back in one transaction, all or none: the ids that have no
        answer under their token (then nothing is deleted), or [] once all are gone."""
        try:
            with self._reachable(), self.sessions.begin() as session:
                missing = [row_id for row_id, token in answers if not self._delete_in(session, row_id, token)]
                if missing:
                    raise _KeepAll(missing)  # leaving the block by an exception rolls it back
        except _KeepAll as kept:
            return kept.missing
        return []

    def _delete_in(self, session: Session, row_id: int, token: str) -> bool:
        if not 1 <= row_id <= MAX_ID or not token.isascii():  # compare_digest takes ASCII strings only
            return False
        row = session.get(Correction, row_id)
        if row is None or not hmac.compare_digest(undo_token(row, self.secret), token):
            return False
        session.delete(row)
        return True

    def recent(self, limit: int = 100, offset: int = 0, where: Filter = Filter()) -> list[Correction]:
        """The newest corrections first, `limit` of them after skipping `offset`."""
        query = select(Correction).where(*where.where()).order_by(Correction.id.desc()).offset(offset).limit(limit)
        with self._reachable(), Session(self.engine) as session:
            return list(session.scalars(query))

    def count(self, where: Filter = Filter()) -> int:
        with self._reachable(), Session(self.engine) as session:
            return self._count_in(session, where)

    @staticmethod
    def _count_in(session: Session, where: Filter = Filter()) -> int:
        return int(session.scalar(select(func.count()).select_from(Correction).where(*where.where())) or 0)

    def remove(self, where: Filter, expected: int | None = None) -> int:
        """The admin's delete: every answer `where` matches, in one transaction; the number gone.
        With `expected`, only if that many match (what the admin saw), else nothing goes. A filter
        that narrows nothing is refused, so that a missing field never empties the store."""
        clauses = where.where()
        if not clauses:
            raise InputError("say which answers to delete: check some, or filter them")
        with self._reachable(), self.sessions.begin() as session:
            result = session.execute(delete(Correction).where(*clauses).execution_options(synchronize_session=False))
            gone = int(getattr(result, "rowcount", 0) or 0)
            # Counted by the delete itself: an answer stored since the page was shown would
            # otherwise go too. Raising here rolls the delete back.
            if expected is not None and gone != expected:
                raise InputError(f"{gone} answers match now, not the {expected} shown: reload the page, then delete")
            return gone

    def models(self) -> list[str]:
        """The models answers were stored for (the page's choice of model)."""
        with self._reachable(), Session(self.engine) as session:
            return list(session.scalars(select(Correction.model).distinct().order_by(Correction.model)))

    @contextlib.contextmanager
    def _reachable(self) -> Iterator[None]:
        """Database errors as StoreUnavailable, whose message is safe to show; the cause is logged
        without the URL's password."""
        try:
            yield
        except SQLAlchemyError as exc:
            log.warning("feedback database %s: %s", redact(self.url), scrub(str(exc).splitlines()[0], self.url))
            raise StoreUnavailable(UNAVAILABLE) from None

    def ids(self) -> set[int]:
        with Session(self.engine) as session:
            return set(session.scalars(select(Correction.id)))

    def dataset(self, where: Filter = Filter(), limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The answers `where` matches as MNIST-style uint8 images (N, 28, 28) and labels, oldest
        first (finetune holds out the newest as its time split), at most `limit` of them."""
        query = select(Correction.input, Correction.label).where(*where.where()).order_by(Correction.id).limit(limit)
        with self._reachable(), Session(self.engine) as session:
            rows = session.execute(query).all()
        images = np.array([np.frombuffer(r.input, dtype=np.uint8).reshape(28, 28) for r in rows], dtype=np.uint8)
        return images.reshape(-1, 28, 28), np.array([r.label for r in rows], dtype=np.int64)

    def export(
        self, out: Path, form: str = "idx", where: Filter = Filter(), max_rows: int = 0
    ) -> tuple[int, list[str]]:
        """Write the answers `where` matches into the folder `out` as a dataset that
        `digitrec finetune --extra-data` reads (or as CSV); the number written and the files. With `max_rows`,
        more than that many is a TooLargeError before anything is written. `digitrec feedback
        export` and the corrections page's download both write through here."""
        images, labels = self.dataset(where, max_rows + 1 if max_rows else None)
        if max_rows and len(labels) > max_rows:
            raise TooLargeError(
                f"more than {max_rows:,} answers match: narrow the filter, or use `digitrec feedback export`"
            )
        return len(labels), write_dataset(images, labels, out, form)

    def stats(self, where: Filter = Filter()) -> Stats:
        columns = (
            Correction.created_at,
            Correction.label,
            Correction.predicted,
            Correction.model,
            Correction.model_version,
            Correction.kind,
            Correction.reading,
        )
        with self._reachable(), Session(self.engine) as session:
            rows = session.execute(select(*columns).where(*where.where())).all()
        corrections = [r for r in rows if r.kind != "confirmation"]
        accuracy, weekly = judged(rows)
        return Stats(
            total=len(rows),
            per_kind={kind: n for kind in KINDS if (n := sum(r.kind == kind for r in rows))},
            per_label=dict(sorted(Counter(r.label for r in rows).items())),
            per_model=dict(sorted(Counter(r.model for r in rows).items())),
            confusion=dict(Counter((r.predicted, r.label) for r in corrections)),
            accuracy=accuracy,
            weekly=weekly,
        )

    def close(self) -> None:
        self.engine.dispose()


def open_store(url: str | None = None, secret: bytes | None = None, max_rows: int = 0) -> Store:
    resolved = resolve_database_url(url)
    migrate(resolved)
    return Store(resolved, secret, max_rows)
