"""Differential test: the in-memory unit of work against the example's SQLite one.

A hypothesis state machine drives random sequences of transactions against two
sides at once: the plugin's ``InMemoryUnitOfWork`` over the example's fakes
(``examples/reading_club/tests/conftest.py``), and the example's
``SqlUnitOfWork`` over a fresh SQLite database file in WAL mode, one
connection per unit of work. Every rule runs the same steps, with the same
command instances, on both sides, first on the in-memory one then on the SQL
one (never interleaved across sides: the two share nothing but the recorder).
What each block returned or raised, and what a reader saw, must agree; after
every rule, so must the stored rows, the messages the plugin recorded with
their statuses, the transport's events and the mail delivered.

SQLite is the reference for what a database does, within what it does
deterministically: with WAL, a reader on its own connection never waits for an
open write transaction and sees only committed rows, so a concurrent reader is
in scope. A second writer would wait for the first one's lock (and an
in-memory conflict is a ``TransactionConflict`` at commit, not a wait):
concurrent writers are out of scope here. A reader that reads the reviews
again after the writer's block is over sees what it committed (read committed:
pysqlite starts no transaction for a SELECT, so each one reads the last commit).

Blocks end by a commit, an explicit rollback, an exception, or a commit then
an exception; a block left without either is out of scope (messagebus then
raises without calling ``rollback()``, and the example adapter keeps its
stream buffer).

``MESSAGEBUS_DIFFERENTIAL_EXAMPLES`` sets the number of sequences (50 by
default, so that the suite stays fast; CI sets 200 or more).
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import itertools
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, ClassVar
from uuid import UUID

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)
from messagebus import AsyncEventstreamPublisher, AsyncMessageBus
from sqlalchemy.ext.asyncio import create_async_engine

from pytest_messagebus_eventstore import (
    InMemoryEventstoreRepository,
    InMemoryEventstreamTransport,
    InMemoryUnitOfWork,
    _recorder,
    _stores,
)
from pytest_messagebus_eventstore._scan import _AsyncScanBus

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "reading_club"
if str(EXAMPLE) not in sys.path:
    sys.path.insert(0, str(EXAMPLE))

from reading_club.adapters import sql  # noqa: E402
from reading_club.domain import (  # noqa: E402
    Book,
    RegisterBook,
    RegisterReviewer,
    Review,
    ReviewBook,
    Reviewer,
)
from reading_club.service.mailer import AbstractMailer  # noqa: E402
from reading_club.service.repositories import ReadingClubError  # noqa: E402


def _load_example_fakes() -> Any:
    """The example's in-memory fakes, from its conftest, under a name of their own."""
    name = "_reading_club_fakes"
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, EXAMPLE / "tests" / "conftest.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return module


fakes = _load_example_fakes()

EXAMPLES = int(os.environ.get("MESSAGEBUS_DIFFERENTIAL_EXAMPLES", "50"))
STEPS = 12
EXCLUDED = {"message_id", "created_at"}
# Blocks that waited longer than this are a hang, not a result.
TIMEOUT = 30

ISBNS = st.sampled_from(["0-321-12521-5", "0-201-48567-2", "0-262-51087-1"])
TITLES = st.sampled_from(["DDD", "Refactoring", "SICP"])
NICKNAMES = st.sampled_from(["alice", "bob"])
RATINGS = st.integers(min_value=1, max_value=5)
COMMENTS = st.sampled_from(["great", "meh"])
# How a block ends once its commands are handled (a command that raises ends
# it first: the exception leaves the block, which rolls back). Commit twice as
# often as the others, so that enough rows exist for reviews to meet again.
ENDINGS = st.sampled_from(["commit", "commit", "rollback", "raise", "commit, then raise"])


class Boom(Exception):
    """Raised inside a block by the test itself."""


class SqlMailer(AbstractMailer):
    """The SQL side's mailer: FakeMailer's behaviour without the plugin's stores."""

    outbox: ClassVar[list[tuple[str, str]]] = []

    def __init__(self) -> None:
        self.pending: list[tuple[str, str]] = []

    def send(self, to: str, subject: str) -> None:
        self.pending.append((to, subject))

    async def on_after_commit(self) -> None:
        self.outbox.extend(self.pending)

    async def on_after_rollback(self) -> None:
        self.pending.clear()


@functools.cache
def _bus(mailer: type[AbstractMailer]) -> AsyncMessageBus[Any]:
    # Scanned as the plugin's bus fixture scans: the in-process pytester runs
    # of other tests import the handlers again, and tamahagane keeps the
    # handlers of every import, which a plain scan would register twice.
    scanned = _AsyncScanBus()
    scanned.scan("reading_club.service.handlers")
    bus: AsyncMessageBus[Any] = AsyncMessageBus(mailer=mailer)
    bus.commands_registry = dict(scanned.commands_registry)
    bus.events_registry = scanned.events_registry
    return bus


def _reset_in_memory_stores() -> None:
    """Every class-level store back to its declared contents (empty here)."""
    reset = getattr(_stores, "reset_class_level_stores", None)
    if reset is None:
        pytest.fail("pytest_messagebus_eventstore._stores.reset_class_level_stores is gone")
    reset()


def _recorder_now() -> Any:
    recorder = _recorder.active_recorder()
    if recorder is None:
        pytest.fail("no active recorder: the plugin is not recording this test")
    return recorder


def _dump(value: Any) -> Any:
    """A model (book, reviewer, review, message) as plain data, its ids and dates left out."""
    if value is None:
        return None
    data = value.model_dump(mode="json", exclude=EXCLUDED)
    data.pop("messages", None)
    return data


def _as_stored(message: Any) -> tuple[str, Any]:
    """A message as the SQL store writes it: its type and its payload."""
    return (
        f"{message.metadata.name}_v{message.metadata.schema_version}",
        message.model_dump(mode="json", exclude={"message_id", "created_at", "metadata"}),
    )


def _error(exc: BaseException) -> tuple[str, str]:
    return type(exc).__name__, str(exc)


async def _query(transaction: Any, book_id: UUID | None, reviewer_id: UUID | None) -> Any:
    """What a transaction sees of a book (ratings, average), its reviews and a reviewer."""
    seen: dict[str, Any] = {}
    if book_id is not None:
        try:
            book = await transaction.books.by_id(book_id)
        except ReadingClubError as exc:
            seen["book"] = _error(exc)
        else:
            seen["book"] = {**_dump(book), "average_rating": book.average_rating}
        seen["reviews"] = [_dump(review) for review in await transaction.reviews.of_book(book_id)]
    if reviewer_id is not None:
        try:
            seen["reviewer"] = _dump(await transaction.reviewers.by_id(reviewer_id))
        except ReadingClubError as exc:
            seen["reviewer"] = _error(exc)
    return seen


async def _end(transaction: Any, ending: str) -> None:
    if ending == "commit":
        await transaction.commit()
    elif ending == "rollback":
        await transaction.rollback()
    elif ending == "raise":
        raise Boom("raised inside the block")
    else:
        await transaction.commit()
        raise Boom("raised after the commit")


def _kept(new_id: UUID, raised: tuple[str, str] | None) -> Any:
    """The id for its bundle, unless the club refused the command: then it never existed.

    Ids of rolled back blocks stay: they make the unknown books and reviewers.
    """
    if raised is not None and raised[0] != Boom.__name__:
        return multiple()
    return new_id


class Side:
    """One implementation: a writer and a reader unit of work, their bus and transport."""

    writer: Any
    reader: Any
    transport: InMemoryEventstreamTransport
    bus: AsyncMessageBus[Any]

    def stores(self) -> dict[int, str]:
        """The message store of each unit of work, by id, with its role."""
        return {id(self.writer.eventstore): "writer", id(self.reader.eventstore): "reader"}

    async def rows(self) -> dict[str, Any]:
        raise NotImplementedError

    def outbox(self) -> list[tuple[str, str]]:
        raise NotImplementedError

    async def block(self, commands: list[Any], ending: str) -> Any:
        """Handle ``commands`` in one transaction of the writer, ended by ``ending``."""
        results: list[Any] = []
        try:
            async with self.writer as transaction:
                for command in commands:
                    results.append(_dump(await self.bus.handle(command, transaction)))
                await _end(transaction, ending)
        except Exception as exc:
            return results, _error(exc)
        return results, None

    async def concurrent(
        self, command: Any, ending: str, book_id: UUID, *, reread: bool
    ) -> dict[str, Any]:
        """A writer handles ``command``; before it ends, a reader in another task reads.

        With ``reread``, the reader's transaction stays open until the writer's
        block is over, then reads the book's reviews again: read committed, it
        sees what the writer committed. Not the book: the SQL repository keeps
        the books it handed out until the end of the transaction, so that a
        second read of a book gives the first one there.
        """
        observed: dict[str, Any] = {}
        handled, read, written = asyncio.Event(), asyncio.Event(), asyncio.Event()

        async def writer() -> None:
            try:
                async with self.writer as transaction:
                    try:
                        observed["handled"] = _dump(await self.bus.handle(command, transaction))
                    finally:
                        handled.set()
                        await read.wait()
                    observed["writer sees"] = await _query(transaction, book_id, None)
                    await _end(transaction, ending)
            except Exception as exc:
                observed["writer raised"] = _error(exc)
            finally:
                written.set()

        async def reader() -> None:
            await handled.wait()
            try:
                async with self.reader as transaction:
                    try:
                        observed["reader sees"] = await _query(transaction, book_id, None)
                    finally:
                        read.set()
                    if reread:
                        await written.wait()
                        observed["reader then sees"] = [
                            _dump(review) for review in await transaction.reviews.of_book(book_id)
                        ]
                    await transaction.rollback()
            except Exception as exc:
                observed["reader raised"] = _error(exc)
            finally:
                read.set()

        await asyncio.wait_for(asyncio.gather(writer(), reader()), TIMEOUT)
        return observed

    async def read(self, book_id: UUID | None, reviewer_id: UUID | None) -> Any:
        """A read-only transaction of the writer, rolled back."""
        try:
            async with self.writer as transaction:
                seen = await _query(transaction, book_id, reviewer_id)
                await transaction.rollback()
        except Exception as exc:
            return _error(exc)
        return seen


class MemorySide(Side):
    def __init__(self) -> None:
        self.transport = InMemoryEventstreamTransport()
        self.writer, self.reader = self._uow(), self._uow()
        self.bus = _bus(fakes.FakeMailer)

    def _uow(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(
            eventstore=InMemoryEventstoreRepository(
                publisher=AsyncEventstreamPublisher(self.transport)
            ),
            books=fakes.InMemoryBookRepository(),
            reviewers=fakes.InMemoryReviewerRepository(),
            reviews=fakes.InMemoryReviewRepository(),
        )

    async def rows(self) -> dict[str, Any]:
        books = fakes.InMemoryBookRepository.books
        return {
            "books": [(str(key), _dump(book)) for key, book in books.items()],
            "isbn index": {
                isbn: str(key) for isbn, key in fakes.InMemoryBookRepository.isbn_index.items()
            },
            "reviewers": [
                (str(key), _dump(reviewer))
                for key, reviewer in fakes.InMemoryReviewerRepository.reviewers.items()
            ],
            "reviews": [_dump(review) for review in fakes.InMemoryReviewRepository.reviews],
            "messages": [_as_stored(message) for message in InMemoryEventstoreRepository.messages],
        }

    def outbox(self) -> list[tuple[str, str]]:
        return list(fakes.FakeMailer.outbox)


def _no_fsync(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA synchronous=OFF")
    cursor.close()


class SqlSide(Side):
    def __init__(self, path: Path) -> None:
        self.engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
        # A throwaway database: no fsync at each commit (a third of the run time).
        sa.event.listen(self.engine.sync_engine, "connect", _no_fsync)
        self.transport = InMemoryEventstreamTransport()
        publisher = AsyncEventstreamPublisher(self.transport)
        self.writer = sql.SqlUnitOfWork(self.engine, publisher)
        self.reader = sql.SqlUnitOfWork(self.engine, publisher)
        self.bus = _bus(SqlMailer)

    async def create(self) -> None:
        async with self.engine.connect() as connection:
            mode = await connection.exec_driver_sql("PRAGMA journal_mode=WAL")
            assert mode.scalar() == "wal"
        await sql.create_schema(self.engine)

    async def rows(self) -> dict[str, Any]:
        rowid = sa.literal_column("rowid")
        async with self.engine.connect() as connection:
            books = (await connection.execute(sql.books.select().order_by(rowid))).all()
            reviewers = (await connection.execute(sql.reviewers.select().order_by(rowid))).all()
            reviews = (
                await connection.execute(
                    sa.select(
                        sql.reviews.c.id,
                        sql.reviews.c.book_id,
                        sql.reviews.c.reviewer_id,
                        sql.reviews.c.rating,
                        sql.reviews.c.comment,
                    ).order_by(sql.reviews.c.position)
                )
            ).all()
            messages = (
                await connection.execute(
                    sa.select(sql.messages.c.type, sql.messages.c.payload).order_by(
                        sql.messages.c.position
                    )
                )
            ).all()
        return {
            "books": [(str(row.id), _dump(Book(**row._mapping))) for row in books],
            "isbn index": {row.isbn: str(row.id) for row in books},
            "reviewers": [(str(row.id), _dump(Reviewer(**row._mapping))) for row in reviewers],
            "reviews": [_dump(Review(**row._mapping)) for row in reviews],
            "messages": [(row.type, row.payload) for row in messages],
        }

    def outbox(self) -> list[tuple[str, str]]:
        return list(SqlMailer.outbox)


class DifferentialMachine(RuleBasedStateMachine):
    """Each example: fresh stores, a fresh database file, a loop of its own."""

    books = Bundle("books")
    reviewers = Bundle("reviewers")

    def __init__(self) -> None:
        super().__init__()
        _reset_in_memory_stores()
        _recorder_now().forget()
        SqlMailer.outbox.clear()
        self.numbers = itertools.count(1)
        self.directory = Path(tempfile.mkdtemp(prefix="messagebus-differential-"))
        self.loop = asyncio.new_event_loop()
        self.memory = MemorySide()
        self.sql = SqlSide(self.directory / "club.sqlite")
        self.run(self.sql.create())

    def teardown(self) -> None:
        try:
            self.run(self.sql.engine.dispose())
        finally:
            self.loop.close()
            shutil.rmtree(self.directory, ignore_errors=True)
            _reset_in_memory_stores()
            SqlMailer.outbox.clear()

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    def on_both(self, step: Any) -> tuple[Any, Any]:
        """``step(side)`` on the in-memory side, then on the SQL side."""
        return self.run(step(self.memory)), self.run(step(self.sql))

    def new_id(self) -> UUID:
        return UUID(int=next(self.numbers))

    # --- rules -----------------------------------------------------------------

    @rule(target=books, isbn=ISBNS, title=TITLES, ending=ENDINGS)
    def register_book(self, isbn: str, title: str, ending: str) -> UUID:
        command = RegisterBook(id=self.new_id(), isbn=isbn, title=title, author="Someone")
        memory, sqlite = self.on_both(lambda side: side.block([command], ending))
        assert memory == sqlite, "register_book: the blocks ended differently"
        return _kept(command.id, sqlite[1])

    @rule(target=reviewers, nickname=NICKNAMES, ending=ENDINGS)
    def register_reviewer(self, nickname: str, ending: str) -> UUID:
        command = RegisterReviewer(
            id=self.new_id(), nickname=nickname, email=f"{nickname}@example.org"
        )
        memory, sqlite = self.on_both(lambda side: side.block([command], ending))
        assert memory == sqlite, "register_reviewer: the blocks ended differently"
        return _kept(command.id, sqlite[1])

    @rule(book=books, reviewer=reviewers, rating=RATINGS, comment=COMMENTS, ending=ENDINGS)
    def review_book(
        self, book: UUID, reviewer: UUID, rating: int, comment: str, ending: str
    ) -> None:
        command = ReviewBook(
            id=self.new_id(), book_id=book, reviewer_id=reviewer, rating=rating, comment=comment
        )
        memory, sqlite = self.on_both(lambda side: side.block([command], ending))
        assert memory == sqlite, "review_book: the blocks ended differently"

    @rule(target=books, reviewer=reviewers, isbn=ISBNS, rating=RATINGS, ending=ENDINGS)
    def register_and_review(self, reviewer: UUID, isbn: str, rating: int, ending: str) -> UUID:
        """Two commands in one block: the review reads the book the block registered."""
        register = RegisterBook(id=self.new_id(), isbn=isbn, title="New", author="Someone")
        review = ReviewBook(
            id=self.new_id(), book_id=register.id, reviewer_id=reviewer, rating=rating, comment="!"
        )
        memory, sqlite = self.on_both(lambda side: side.block([register, review], ending))
        assert memory == sqlite, "register_and_review: the blocks ended differently"
        return _kept(register.id, sqlite[1])

    @rule(target=books, isbn=ISBNS, ending=ENDINGS, reread=st.booleans())
    def concurrent_reader_of_new_book(self, isbn: str, ending: str, reread: bool) -> UUID:
        command = RegisterBook(id=self.new_id(), isbn=isbn, title="Pending", author="Someone")
        memory, sqlite = self.on_both(
            lambda side: side.concurrent(command, ending, command.id, reread=reread)
        )
        assert memory == sqlite, "concurrent reader of a new book: the sides saw different things"
        return _kept(command.id, sqlite.get("writer raised"))

    @rule(book=books, reviewer=reviewers, rating=RATINGS, ending=ENDINGS, reread=st.booleans())
    def concurrent_reader_of_review(
        self, book: UUID, reviewer: UUID, rating: int, ending: str, reread: bool
    ) -> None:
        command = ReviewBook(
            id=self.new_id(), book_id=book, reviewer_id=reviewer, rating=rating, comment="pending"
        )
        memory, sqlite = self.on_both(
            lambda side: side.concurrent(command, ending, book, reread=reread)
        )
        assert memory == sqlite, "concurrent reader of a review: the sides saw different things"

    @rule(book=books, reviewer=reviewers)
    def read(self, book: UUID, reviewer: UUID) -> None:
        memory, sqlite = self.on_both(lambda side: side.read(book, reviewer))
        assert memory == sqlite, "read: the queries answered differently"

    # --- after every rule ------------------------------------------------------

    def recorded(self, side: Side) -> list[tuple[str, str, Any, str]]:
        """What the plugin recorded for the side's stores: role, type, fields, status."""
        roles = side.stores()
        return [
            (
                roles[id(record.store)],
                type(record.message).__name__,
                _dump(record.message),
                record.status,
            )
            for record in _recorder_now().records
            if id(record.store) in roles
        ]

    @staticmethod
    def events(side: Side) -> list[tuple[str, Any]]:
        return [(event["type"], json.loads(event["payload"])) for event in side.transport.events]

    @invariant()
    def sides_agree(self) -> None:
        memory, sqlite = self.on_both(lambda side: side.rows())
        assert memory == sqlite, "stored rows differ"
        assert self.recorded(self.memory) == self.recorded(self.sql), "recorded messages differ"
        assert self.events(self.memory) == self.events(self.sql), "transport events differ"
        assert self.memory.outbox() == self.sql.outbox(), "delivered mail differs"


def test_in_memory_unit_of_work_agrees_with_sqlite() -> None:
    run_state_machine_as_test(
        DifferentialMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
            # A failure in CI can be replayed: decorate DifferentialMachine with
            # the @reproduce_failure(...) that hypothesis prints.
            print_blob=True,
        ),
    )
