"""Transaction semantics of the in-memory units of work (issue 12, notes/semantics.md).

Each test writes a small test module into a pytester project (the library app of
conftest.py) and runs it in-process; the inner tests assert exact store contents,
recorded statuses and transport events, and a deliberately failing inner test shows
the report section a user reads.
"""

from __future__ import annotations

import re

import pytest

# Shared with the in-process runs below (see test_assertions.py).
import pytest_messagebus_eventstore.assertions  # noqa: F401
from conftest import ini_source

# What every inner module starts with.
HEADER = """
import asyncio
import contextvars
import json
from dataclasses import dataclass
from typing import ClassVar
from uuid import UUID

import pytest
from messagebus import AsyncAbstractRepository, SyncAbstractRepository

from conftest import FakeBookRepository, SyncFakeBookRepository
from library.domain import Book, BookRegistered, RegisterBook
from library.repositories import AbstractBookRepository
from pytest_messagebus_eventstore import (
    InMemoryEventstoreRepository,
    InMemoryRepository,
    InMemoryUnitOfWork,
    SyncInMemoryEventstoreRepository,
    SyncInMemoryUnitOfWork,
    assert_messages,
    recorded_messages,
)


def register(n, author="A"):
    return RegisterBook(id=UUID(int=n), isbn=str(n), title=f"Book {n}", author=author)


def registered(n, author="A"):
    return BookRegistered(id=UUID(int=n), isbn=str(n), title=f"Book {n}", author=author)


def book(n, title):
    return Book(id=UUID(int=n), isbn=str(n), title=title, author="A")


def keys(store):
    return sorted(key.int for key in store)


def titles(store):
    return {key.int: value.title for key, value in store.items()}


def event_ids(transport):
    return [json.loads(event["payload"])["id"] for event in transport.events]


def flow(source):
    # (class, book number, kept) of every message the store of source recorded;
    # kept is False for the messages of a rolled back transaction.
    kept = {id(message) for message in recorded_messages(source)}
    return [
        (type(message).__name__, message.id.int, id(message) in kept)
        for message in recorded_messages(source, include_rolled_back=True)
    ]


def registration(n, kept):
    return [("RegisterBook", n, kept), ("BookRegistered", n, kept)]
"""


def _id(n: int) -> str:
    return f"00000000-0000-0000-0000-{n:012d}"


def _section(*lines: str) -> list[str]:
    """fnmatch patterns of the report section's lines (brackets escaped)."""
    return ["*- messagebus eventstore -*"] + [
        re.sub(r"[][]", lambda bracket: f"[{bracket.group()}]", line) for line in lines
    ]


# --- 1. Concurrent units of work ---------------------------------------------

CONCURRENT = (
    HEADER
    + """
async def test_writer_commits_while_the_other_rolls_back(bus, uow, eventstore, transport):
    other = InMemoryUnitOfWork(
        eventstore=InMemoryEventstoreRepository(publisher=eventstore.publisher),
        books=FakeBookRepository(),
    )
    a_wrote, b_wrote, a_done = asyncio.Event(), asyncio.Event(), asyncio.Event()
    seen = {}

    async def task_a():
        async with uow as transaction:
            await bus.handle(register(1), transaction)
            a_wrote.set()
            await b_wrote.wait()
            seen["A while B has written book 2"] = keys(transaction.books.books)
            await transaction.commit()
        a_done.set()

    async def task_b():
        async with other as transaction:
            await a_wrote.wait()
            seen["B before A commits"] = keys(transaction.books.books)
            await bus.handle(register(2), transaction)
            b_wrote.set()
            await a_done.wait()
            seen["B after A commits"] = keys(transaction.books.books)
            await transaction.rollback()

    await asyncio.gather(task_a(), task_b())
    assert seen == {
        "B before A commits": [],
        "A while B has written book 2": [1],
        "B after A commits": [1, 2],
    }
    assert keys(FakeBookRepository.books) == [1]
    assert list(eventstore.messages) == [register(1), registered(1)]
    assert event_ids(transport) == [str(UUID(int=1))]
    assert flow(uow) == registration(1, True)
    assert flow(other) == registration(2, False)


@pytest.mark.parametrize("reader_ends_first", [False, True], ids=["writer-first", "reader-first"])
async def test_read_only_rollback_keeps_a_concurrent_writers_rows(
    bus, uow, eventstore, transport, reader_ends_first
):
    FakeBookRepository.books[UUID(int=0)] = book(0, "Seed")
    reader = InMemoryUnitOfWork(books=FakeBookRepository())
    read, written, reader_done, writer_done = (asyncio.Event() for _ in range(4))
    seen = {}

    async def read_only():
        async with reader as transaction:
            seen["reader"] = titles(transaction.books.books)
            read.set()
            await (written if reader_ends_first else writer_done).wait()
            await transaction.rollback()
        reader_done.set()

    async def writer():
        async with uow as transaction:
            await read.wait()
            await bus.handle(register(1), transaction)
            (await transaction.books.by_id(UUID(int=0))).title = "Renamed"
            written.set()
            if reader_ends_first:
                await reader_done.wait()
            await transaction.commit()
        writer_done.set()

    await asyncio.gather(read_only(), writer())
    assert seen == {"reader": {0: "Seed"}}
    assert titles(FakeBookRepository.books) == {0: "Renamed", 1: "Book 1"}
    assert list(eventstore.messages) == [register(1), registered(1)]
    assert event_ids(transport) == [str(UUID(int=1))]
    assert flow(uow) == registration(1, True)
"""
)


def test_concurrent_units_of_work_keep_each_others_commits(project: pytest.Pytester) -> None:
    project.makepyfile(test_concurrent=CONCURRENT)
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=3)


OTHER_UOW_INSIDE = (
    HEADER
    + """
def other_uow(eventstore):
    return InMemoryUnitOfWork(
        eventstore=InMemoryEventstoreRepository(publisher=eventstore.publisher),
        books=FakeBookRepository(),
    )


async def run(bus, outer_uow, inner_uow, outer_commits):
    async with outer_uow as outer:
        await bus.handle(register(1), outer)
        async with inner_uow as inner:
            await bus.handle(register(2), inner)
            if outer_commits:
                await inner.rollback()
            else:
                await inner.commit()
        if outer_commits:
            await outer.commit()
        else:
            await outer.rollback()


@pytest.mark.parametrize("outer_commits", [True, False], ids=["outer-commits", "inner-commits"])
async def test_other_uow_inside(bus, uow, eventstore, transport, outer_commits):
    inner_uow = other_uow(eventstore)
    await run(bus, uow, inner_uow, outer_commits)
    kept = 1 if outer_commits else 2
    assert keys(FakeBookRepository.books) == [kept]
    assert list(eventstore.messages) == [register(kept), registered(kept)]
    assert event_ids(transport) == [str(UUID(int=kept))]
    assert flow(uow) == registration(1, outer_commits)
    assert flow(inner_uow) == registration(2, not outer_commits)


@pytest.mark.parametrize("outer_commits", [True, False], ids=["outer-commits", "inner-commits"])
async def test_section(bus, uow, eventstore, outer_commits):
    await run(bus, uow, other_uow(eventstore), outer_commits)
    assert False, "show the section"
"""
)


def test_a_unit_of_work_opened_inside_another_is_independent(project: pytest.Pytester) -> None:
    project.makepyfile(test_inside=OTHER_UOW_INSIDE)
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*_ test_section[[]outer-commits[]] _*",
            *_section(
                "Messages recorded (4), in order:",
                f"  [0] committed    RegisterBook(id=UUID('{_id(1)}')*",
                f"  [1] committed    BookRegistered(id=UUID('{_id(1)}')*",
                f"  [2] rolled back  RegisterBook(id=UUID('{_id(2)}')*",
                f"  [3] rolled back  BookRegistered(id=UUID('{_id(2)}')*",
                "Events sent to transport (1):",
                f"  [0] register_book_v1(id='{_id(1)}'*",
            ),
            "*_ test_section[[]inner-commits[]] _*",
            *_section(
                "Messages recorded (4), in order:",
                f"  [0] rolled back  RegisterBook(id=UUID('{_id(1)}')*",
                f"  [1] rolled back  BookRegistered(id=UUID('{_id(1)}')*",
                f"  [2] committed    RegisterBook(id=UUID('{_id(2)}')*",
                f"  [3] committed    BookRegistered(id=UUID('{_id(2)}')*",
                "Events sent to transport (1):",
                f"  [0] register_book_v1(id='{_id(2)}'*",
            ),
        ]
    )


CONFLICT = (
    HEADER
    + """
from pytest_messagebus_eventstore import TransactionConflict


async def test_second_commit_of_the_same_row_conflicts(uow):
    FakeBookRepository.books[UUID(int=1)] = book(1, "Seed")
    other = InMemoryUnitOfWork(books=FakeBookRepository())
    both_changed, first_done = asyncio.Event(), asyncio.Event()

    async def first():
        async with uow as transaction:
            (await transaction.books.by_id(UUID(int=1))).title = "First"
            await both_changed.wait()
            await transaction.commit()
        first_done.set()

    async def second():
        with pytest.raises(TransactionConflict) as conflict:
            async with other as transaction:
                (await transaction.books.by_id(UUID(int=1))).title = "Second"
                transaction.books.books[UUID(int=2)] = book(2, "Also second")
                both_changed.set()
                await first_done.wait()
                await transaction.commit()
        return str(conflict.value)

    _, message = await asyncio.gather(first(), second())
    assert issubclass(TransactionConflict, RuntimeError)
    assert "FakeBookRepository.books" in message
    assert "00000000-0000-0000-0000-000000000001" in message
    assert titles(FakeBookRepository.books) == {1: "First"}
"""
)


def test_two_transactions_changing_one_row_conflict(project: pytest.Pytester) -> None:
    project.makepyfile(test_conflict=CONFLICT)
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1)


# --- 2. Depth ----------------------------------------------------------------

DEPTH = (
    HEADER
    + """
@dataclass(slots=True)
class Slotted:
    name: str
    tags: list


class Shared:
    def __init__(self, name):
        self.name = name
        self.notes = []


class IndexedBookRepository(InMemoryRepository, AbstractBookRepository):
    books: ClassVar[dict[UUID, Book]] = {}
    by_author: ClassVar[dict[str, list[UUID]]] = {"Evans": [UUID(int=0)]}

    async def add(self, book):
        self.books[book.id] = book
        self.by_author.setdefault(book.author, []).append(book.id)
        self.seen.append(book)

    async def by_id(self, id):
        return self.books[id]


class Catalog(InMemoryRepository, AsyncAbstractRepository[Book]):
    rows: ClassVar[list[dict]] = [{"id": 1, "tags": ["a"]}]
    tree: ClassVar[dict[str, dict[str, list]]] = {"x": {"y": [1]}}
    slotted: ClassVar[dict[str, Slotted]] = {"s": Slotted("s", ["t"])}
    table: ClassVar[dict[str, Shared]] = {}
    index: ClassVar[dict[str, Shared]] = {}


@pytest.fixture
def messagebus_repositories():
    return {"books": IndexedBookRepository(), "catalog": Catalog()}


@pytest.fixture
def shared():
    shared = Shared("orig")
    Catalog.table["k"] = shared
    Catalog.index["orig"] = shared
    return shared


async def change(bus, transaction):
    await bus.handle(register(1, author="Evans"), transaction)
    await bus.handle(register(2, author="Fowler"), transaction)
    catalog = transaction.catalog
    row = catalog.rows[0]
    row["tags"].append("b")
    row["name"] = "changed"
    catalog.tree["x"]["y"].append(2)
    catalog.tree["x"]["z"] = [3]
    slotted = catalog.slotted["s"]
    slotted.name = "changed"
    slotted.tags.append("u")
    table_row = catalog.table["k"]
    table_row.name = "changed"
    table_row.notes.append("n")
    # The second store holding the object is first read after the change.
    assert list(catalog.index) == ["orig"]


@pytest.mark.parametrize("how", ["exception", "rollback"])
async def test_rollback_undoes_changes_at_any_depth(bus, uow, eventstore, shared, how):
    with pytest.raises(RuntimeError, match="undo") if how == "exception" else nullcontext():
        async with uow as transaction:
            await change(bus, transaction)
            if how == "exception":
                raise RuntimeError("undo")
            await transaction.rollback()
    assert dict(IndexedBookRepository.books) == {}
    assert dict(IndexedBookRepository.by_author) == {"Evans": [UUID(int=0)]}
    assert list(Catalog.rows) == [{"id": 1, "tags": ["a"]}]
    assert dict(Catalog.tree) == {"x": {"y": [1]}}
    assert dict(Catalog.slotted) == {"s": Slotted("s", ["t"])}
    assert Catalog.table["k"] is shared
    assert Catalog.index["orig"] is shared
    assert (shared.name, shared.notes) == ("orig", [])
    assert list(eventstore.messages) == []


async def test_commit_keeps_changes_at_any_depth(bus, uow, eventstore, shared):
    async with uow as transaction:
        await change(bus, transaction)
        await transaction.commit()
    assert keys(IndexedBookRepository.books) == [1, 2]
    assert dict(IndexedBookRepository.by_author) == {
        "Evans": [UUID(int=0), UUID(int=1)],
        "Fowler": [UUID(int=2)],
    }
    assert list(Catalog.rows) == [{"id": 1, "tags": ["a", "b"], "name": "changed"}]
    assert dict(Catalog.tree) == {"x": {"y": [1, 2], "z": [3]}}
    assert dict(Catalog.slotted) == {"s": Slotted("changed", ["t", "u"])}
    assert (Catalog.table["k"].name, Catalog.table["k"].notes) == ("changed", ["n"])
    assert [type(message).__name__ for message in eventstore.messages] == [
        "RegisterBook", "BookRegistered", "RegisterBook", "BookRegistered"
    ]


async def test_commit_keeps_one_object_shared_by_two_stores(bus, uow, shared):
    async with uow as transaction:
        await change(bus, transaction)
        await transaction.commit()
    assert Catalog.table["k"] is Catalog.index["orig"]
    assert (Catalog.index["orig"].name, Catalog.index["orig"].notes) == ("changed", ["n"])


def test_next_test_starts_from_the_declared_contents():
    assert dict(IndexedBookRepository.by_author) == {"Evans": [UUID(int=0)]}
    assert list(Catalog.rows) == [{"id": 1, "tags": ["a"]}]
    assert dict(Catalog.tree) == {"x": {"y": [1]}}
    assert dict(Catalog.slotted) == {"s": Slotted("s", ["t"])}
    assert dict(Catalog.table) == {}
    assert dict(Catalog.index) == {}


class SyncCatalog(InMemoryRepository, SyncAbstractRepository[Book]):
    tree: ClassVar[dict[str, dict[str, list]]] = {"x": {"y": [1]}}
    slotted: ClassVar[dict[str, Slotted]] = {"s": Slotted("s", ["t"])}


def sync_change(sync_bus, transaction):
    sync_bus.handle(register(1), transaction)
    transaction.catalog.tree["x"]["y"].append(2)
    slotted = transaction.catalog.slotted["s"]
    slotted.name = "changed"
    slotted.tags.append("u")


def test_sync_rollback_undoes_changes_at_any_depth(sync_bus):
    uow = SyncInMemoryUnitOfWork(books=SyncFakeBookRepository(), catalog=SyncCatalog())
    with pytest.raises(RuntimeError, match="undo"), uow as transaction:
        sync_change(sync_bus, transaction)
        raise RuntimeError("undo")
    assert dict(SyncFakeBookRepository.books) == {}
    assert dict(SyncCatalog.tree) == {"x": {"y": [1]}}
    assert dict(SyncCatalog.slotted) == {"s": Slotted("s", ["t"])}
    assert list(SyncInMemoryEventstoreRepository.messages) == []


def test_sync_commit_keeps_changes_at_any_depth(sync_bus):
    uow = SyncInMemoryUnitOfWork(books=SyncFakeBookRepository(), catalog=SyncCatalog())
    with uow as transaction:
        sync_change(sync_bus, transaction)
        transaction.commit()
    assert keys(SyncFakeBookRepository.books) == [1]
    assert dict(SyncCatalog.tree) == {"x": {"y": [1, 2]}}
    assert dict(SyncCatalog.slotted) == {"s": Slotted("changed", ["t", "u"])}
"""
).replace("import asyncio\n", "import asyncio\nfrom contextlib import nullcontext\n", 1)


def test_rollback_and_commit_at_any_depth(project: pytest.Pytester) -> None:
    project.makepyfile(test_depth=DEPTH)
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=7)


# --- 3. Reassigned class attribute -------------------------------------------

REASSIGNED = (
    HEADER
    + """
class Shelf(InMemoryRepository, AsyncAbstractRepository[Book]):
    rows: ClassVar[dict[str, int]] = {"declared": 0}


def test_1_reassigns_the_class_attribute():
    Shelf.rows = {"x": 1}
    Shelf.rows["y"] = 2
    assert dict(Shelf.rows) == {"x": 1, "y": 2}


async def test_2_the_new_container_is_transactional():
    Shelf.rows = {"x": 1}
    uow = InMemoryUnitOfWork(shelf=Shelf())
    async with uow as transaction:
        transaction.shelf.rows["y"] = 2
        await transaction.rollback()
    assert dict(Shelf.rows) == {"x": 1}
    async with uow as transaction:
        transaction.shelf.rows["z"] = 3
        await transaction.commit()
    assert dict(Shelf.rows) == {"x": 1, "z": 3}


async def test_3_next_test_has_the_declared_store_back():
    assert dict(Shelf.rows) == {"declared": 0}
    async with InMemoryUnitOfWork(shelf=Shelf()) as transaction:
        transaction.shelf.rows["new"] = 1
        await transaction.rollback()
    assert dict(Shelf.rows) == {"declared": 0}
"""
)


def test_reassigned_class_attribute(project: pytest.Pytester) -> None:
    project.makepyfile(test_reassigned=REASSIGNED)
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=3)


# --- 4. Nesting the same unit of work ----------------------------------------

NESTED = (
    HEADER
    + """
from pytest_messagebus_eventstore import NestedTransactionError


async def test_nested_block_of_the_same_uow_is_refused(bus, uow, eventstore, transport):
    assert issubclass(NestedTransactionError, RuntimeError)
    reached = []
    with pytest.raises(NestedTransactionError):
        async with uow as outer:
            await bus.handle(register(1), outer)
            async with uow as inner:
                reached.append("inner block")
                await inner.commit()
            reached.append("after the inner block")
            await outer.commit()
    assert reached == []
    assert dict(FakeBookRepository.books) == {}
    assert list(eventstore.messages) == []
    assert transport.events == []
    assert flow(uow) == registration(1, False)

    async with uow as transaction:
        await bus.handle(register(2), transaction)
        await transaction.commit()
    assert keys(FakeBookRepository.books) == [2]
    assert event_ids(transport) == [str(UUID(int=2))]


def test_sync_nested_block_of_the_same_uow_is_refused(
    sync_bus, sync_uow, sync_eventstore, sync_transport
):
    reached = []
    with pytest.raises(NestedTransactionError):
        with sync_uow as outer:
            sync_bus.handle(register(1), outer)
            with sync_uow as inner:
                reached.append("inner block")
                inner.commit()
            reached.append("after the inner block")
            outer.commit()
    assert reached == []
    assert dict(SyncFakeBookRepository.books) == {}
    assert list(sync_eventstore.messages) == []
    assert sync_transport.events == []
    assert flow(sync_uow) == registration(1, False)
"""
)


def test_nested_transaction_of_one_unit_of_work(project: pytest.Pytester) -> None:
    project.makepyfile(test_nested=NESTED)
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2)


# --- 5. Commit, then an exception or a rollback ------------------------------

COMMIT_THEN = (
    HEADER
    + """
async def commit_then(how, bus, uow):
    async with uow as transaction:
        await bus.handle(register(1), transaction)
        await transaction.commit()
        if how == "exception":
            raise ValueError("after the commit")
        await transaction.rollback()


async def later_transaction(bus, uow):
    async with uow as transaction:
        await bus.handle(register(2), transaction)
        await transaction.commit()


@pytest.mark.parametrize("how", ["exception", "rollback"])
async def test_commit_stands_but_is_never_published(bus, uow, eventstore, transport, how):
    if how == "exception":
        with pytest.raises(ValueError, match="after the commit"):
            await commit_then(how, bus, uow)
    else:
        await commit_then(how, bus, uow)
    assert keys(FakeBookRepository.books) == [1]
    assert list(eventstore.messages) == [register(1), registered(1)]
    assert flow(uow) == registration(1, True)
    assert transport.events == []

    await later_transaction(bus, uow)
    assert keys(FakeBookRepository.books) == [1, 2]
    assert flow(uow) == registration(1, True) + registration(2, True)
    assert event_ids(transport) == [str(UUID(int=2))]


async def test_section(bus, uow):
    await commit_then("rollback", bus, uow)
    await later_transaction(bus, uow)
    assert False, "show the section"
"""
)


def test_commit_then_exception_or_rollback(project: pytest.Pytester) -> None:
    project.makepyfile(test_commit_then=COMMIT_THEN)
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_section _*",
            *_section(
                "Messages recorded (4), in order:",
                f"  [0] committed    RegisterBook(id=UUID('{_id(1)}')*",
                f"  [1] committed    BookRegistered(id=UUID('{_id(1)}')*",
                f"  [2] committed    RegisterBook(id=UUID('{_id(2)}')*",
                f"  [3] committed    BookRegistered(id=UUID('{_id(2)}')*",
                # Only the later transaction's: book 1's block ended after its commit.
                "Events sent to transport (1):",
                f"  [0] register_book_v1(id='{_id(2)}'*",
            ),
        ]
    )


# --- 6. hypothesis -----------------------------------------------------------

HYPOTHESIS = (
    HEADER
    + """
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lastuuid.dummies import uuidgen

EXAMPLES = {"async": [], "deterministic": [], "sync": []}
examples = settings(
    max_examples=10, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)


def number(n):
    return n % 2**128


@examples
@given(n=st.integers())
async def test_each_example_starts_afresh(n, bus, uow, eventstore, transport):
    EXAMPLES["async"].append(n)
    async with uow as transaction:
        await bus.handle(register(number(n)), transaction)
        await transaction.commit()
    assert keys(FakeBookRepository.books) == [number(n)]
    assert list(eventstore.messages) == [register(number(n)), registered(number(n))]
    assert event_ids(transport) == [str(UUID(int=number(n)))]
    assert recorded_messages(uow) == [register(number(n)), registered(number(n))]


@pytest.mark.messagebus_deterministic
@examples
@given(n=st.integers())
async def test_each_example_numbers_from_one(n, bus, uow, eventstore):
    EXAMPLES["deterministic"].append(n)
    command = register(number(n))
    async with uow as transaction:
        await bus.handle(command, transaction)
        await transaction.commit()
    assert command.message_id == uuidgen(1)
    assert [message.message_id for message in recorded_messages(uow)] == [uuidgen(1), uuidgen(2)]
    assert [message.message_id for message in eventstore.messages] == [uuidgen(1), uuidgen(2)]


@examples
@given(n=st.integers())
def test_each_sync_example_starts_afresh(n, sync_bus, sync_uow, sync_eventstore, sync_transport):
    EXAMPLES["sync"].append(n)
    with sync_uow as transaction:
        sync_bus.handle(register(number(n)), transaction)
        transaction.commit()
    assert keys(SyncFakeBookRepository.books) == [number(n)]
    assert list(sync_eventstore.messages) == [register(number(n)), registered(number(n))]
    assert event_ids(sync_transport) == [str(UUID(int=number(n)))]
    assert recorded_messages(sync_uow) == [register(number(n)), registered(number(n))]


def test_several_examples_ran():
    assert {name: len(ran) > 1 for name, ran in EXAMPLES.items()} == {
        "async": True, "deterministic": True, "sync": True
    }
"""
)


def test_each_hypothesis_example_starts_afresh(project: pytest.Pytester) -> None:
    project.makepyfile(test_hypothesis=HYPOTHESIS)
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=4)


# --- 7. In-process pytester sessions -----------------------------------------

IN_PROCESS = (
    HEADER
    + f"""
@pytest.fixture
def pytester(pytester):
    # As the suite's conftest does: the options pytest-asyncio asks every run for.
    pytester.makeini({ini_source()!r})
    return pytester
"""
    + '''
INNER = """
from uuid import UUID

from conftest import FakeBookRepository
from library.domain import Book


def test_inner():
    assert dict(FakeBookRepository.books) == {}
    inner = Book(id=UUID(int=2), isbn="2", title="Inner", author="I")
    FakeBookRepository.books[inner.id] = inner
    assert list(FakeBookRepository.books) == [UUID(int=2)]
"""

INTERRUPTED = """
from uuid import UUID

from conftest import FakeBookRepository
from library.domain import Book, RegisterBook
from pytest_messagebus_eventstore import InMemoryEventstoreRepository


def test_interrupted():
    FakeBookRepository.books[UUID(int=3)] = Book(id=UUID(int=3), isbn="3", title="Lost", author="I")
    InMemoryEventstoreRepository.messages.append(
        RegisterBook(id=UUID(int=3), isbn="3", title="Lost", author="I")
    )
    raise KeyboardInterrupt
"""

CLEAN = """
from conftest import FakeBookRepository
from pytest_messagebus_eventstore import InMemoryEventstoreRepository


def test_clean():
    assert dict(FakeBookRepository.books) == {}
    assert list(InMemoryEventstoreRepository.messages) == []
"""


def test_inner_session_is_isolated_from_the_outer_test(pytester):
    FakeBookRepository.books[UUID(int=1)] = book(1, "Outer")
    pytester.makepyfile(test_inner=INNER)
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1)
    assert titles(FakeBookRepository.books) == {1: "Outer"}


async def test_inner_session_inside_a_committed_transaction_history(pytester, bus, uow):
    async with uow as transaction:
        await bus.handle(register(1), transaction)
        await transaction.commit()
    pytester.makepyfile(test_inner=INNER)
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1)
    assert titles(FakeBookRepository.books) == {1: "Book 1"}
    assert flow(uow) == registration(1, True)


def test_session_after_an_interrupted_one_starts_clean(pytester):
    FakeBookRepository.books[UUID(int=1)] = book(1, "Outer")
    pytester.makepyfile(test_interrupted=INTERRUPTED)
    result = pytester.runpytest("-p", "no:randomly", no_reraise_ctrlc=True)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*KeyboardInterrupt*"])
    (pytester.path / "test_interrupted.py").unlink()
    pytester.makepyfile(test_clean=CLEAN)
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1)
    assert titles(FakeBookRepository.books) == {1: "Outer"}
'''
)


def test_in_process_sessions_start_clean_and_leave_the_outer_stores(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(test_in_process=IN_PROCESS)
    result = project.runpytest("-p", "no:randomly", "-p", "pytester")
    result.assert_outcomes(passed=3)


# --- 8. Wider scopes ---------------------------------------------------------

SCOPED = (
    HEADER
    + """
@pytest.fixture(scope="module", autouse=True)
def module_seed():
    FakeBookRepository.books[UUID(int=1)] = book(1, "Module one")
    FakeBookRepository.books[UUID(int=2)] = book(2, "Module two")


MODULE_SEED = {1: "Module one", 2: "Module two"}


def test_module_1_changes_a_seeded_row():
    assert titles(FakeBookRepository.books) == MODULE_SEED
    FakeBookRepository.books[UUID(int=1)].title = "Changed"


def test_module_2_deletes_a_seeded_row():
    assert titles(FakeBookRepository.books) == MODULE_SEED
    del FakeBookRepository.books[UUID(int=2)]


async def test_module_3_changes_rows_in_a_transaction(bus, uow):
    assert titles(FakeBookRepository.books) == MODULE_SEED
    async with uow as transaction:
        await bus.handle(register(9), transaction)
        (await transaction.books.by_id(UUID(int=1))).title = "Committed"
        del transaction.books.books[UUID(int=2)]
        await transaction.commit()
    assert titles(FakeBookRepository.books) == {1: "Committed", 9: "Book 9"}


class TestClassScope:
    # A method would be called on the first test's instance only: pytest 9
    # deprecates class-scoped fixtures that are not class methods.
    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def class_seed(cls):
        FakeBookRepository.books[UUID(int=3)] = book(3, "Class three")

    def test_class_1_changes_and_deletes(self):
        assert titles(FakeBookRepository.books) == {**MODULE_SEED, 3: "Class three"}
        FakeBookRepository.books[UUID(int=3)].title = "Changed"
        del FakeBookRepository.books[UUID(int=1)]

    def test_class_2_deletes_everything(self):
        assert titles(FakeBookRepository.books) == {**MODULE_SEED, 3: "Class three"}
        FakeBookRepository.books.clear()

    async def test_class_3_rolls_back(self, bus, uow):
        assert titles(FakeBookRepository.books) == {**MODULE_SEED, 3: "Class three"}
        async with uow as transaction:
            await bus.handle(register(9), transaction)
            del transaction.books.books[UUID(int=3)]
            await transaction.rollback()
        assert titles(FakeBookRepository.books) == {**MODULE_SEED, 3: "Class three"}


def test_module_4_after_the_class():
    assert titles(FakeBookRepository.books) == MODULE_SEED
    FakeBookRepository.books[UUID(int=4)] = book(4, "Added")
"""
)

OTHER_MODULE = (
    HEADER
    + """
def test_other_module_sees_no_seed():
    assert dict(FakeBookRepository.books) == {}


async def test_other_module_writes(bus, uow):
    async with uow as transaction:
        await bus.handle(register(5), transaction)
        await transaction.commit()
    assert keys(FakeBookRepository.books) == [5]
"""
)

REVERSE = """

def pytest_collection_modifyitems(items):
    items.reverse()
"""

SCOPED_RUNS = {
    "in-order": ["-p", "no:randomly"],
    "reversed": ["-p", "no:randomly"],
    "randomly-1": ["-p", "randomly", "--randomly-seed=1"],
    "randomly-2": ["-p", "randomly", "--randomly-seed=2"],
    "randomly-3": ["-p", "randomly", "--randomly-seed=3"],
    "xdist": ["-p", "no:randomly", "-n", "2"],
}


@pytest.mark.parametrize("run", list(SCOPED_RUNS))
def test_wider_scoped_fixtures_seed_every_test_of_their_scope(
    project: pytest.Pytester, run: str
) -> None:
    project.makepyfile(test_a_scoped=SCOPED, test_b_other=OTHER_MODULE)
    if run == "reversed":
        conftest = project.path / "conftest.py"
        conftest.write_text(conftest.read_text() + REVERSE)
    args = SCOPED_RUNS[run]
    result = project.runpytest_subprocess(*args) if run == "xdist" else project.runpytest(*args)
    result.assert_outcomes(passed=9)


# --- 9. Recorded statuses ----------------------------------------------------

MAILER = """
from messagebus import AsyncDependency, async_listen

from library.domain import BookRegistered


class Mailer(AsyncDependency):
    async def on_after_commit(self):
        raise RuntimeError("mail server down")

    async def on_after_rollback(self):
        pass


@async_listen
async def mail_registered(event: BookRegistered, uow, mailer: Mailer) -> None:
    pass
"""

AFTER_COMMIT_RAISES = (
    HEADER
    + """
from library.mailing import Mailer


@pytest.fixture
def messagebus_dependencies():
    return {"mailer": Mailer}


async def commit_and_fail(bus, uow):
    with pytest.raises(RuntimeError, match="mail server down"):
        async with uow as transaction:
            await bus.handle(register(1), transaction)
            await transaction.commit()


async def test_messages_stay_committed(bus, uow, eventstore, transport):
    await commit_and_fail(bus, uow)
    assert keys(FakeBookRepository.books) == [1]
    assert list(eventstore.messages) == [register(1), registered(1)]
    assert flow(uow) == registration(1, True)
    assert recorded_messages(uow) == [register(1), registered(1)]
    with pytest.raises(AssertionError, match="recorded messages differ"):
        assert_messages(uow, [])


@pytest.mark.messagebus_strict
async def test_strict_mode_reports_them(bus, uow):
    await commit_and_fail(bus, uow)


async def test_section(bus, uow):
    await commit_and_fail(bus, uow)
    assert False, "show the section"
"""
)


def test_dependency_raising_after_commit_leaves_messages_committed(
    project: pytest.Pytester,
) -> None:
    (project.path / "library" / "mailing.py").write_text(MAILER)
    project.makepyfile(test_after_commit=AFTER_COMMIT_RAISES)
    result = project.runpytest(
        "-p", "no:randomly", "-o", "messagebus_scan=library.handlers\nlibrary.mailing"
    )
    result.assert_outcomes(passed=2, failed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_strict_mode_reports_them _*",
            "messagebus strict mode: 2 recorded item(s) not checked by assert_messages:",
            f"  message [[]0[]] RegisterBook(id=UUID('{_id(1)}')*",
            f"  message [[]1[]] BookRegistered(id=UUID('{_id(1)}')*",
            "*_ test_section _*",
            *_section(
                "Messages recorded (2), in order:",
                f"  [0] committed    RegisterBook(id=UUID('{_id(1)}')*",
                f"  [1] committed    BookRegistered(id=UUID('{_id(1)}')*",
            ),
        ]
    )


SHARED_STORE = (
    HEADER
    + """
async def run(bus, eventstore):
    first = InMemoryUnitOfWork(eventstore=eventstore, books=FakeBookRepository())
    second = InMemoryUnitOfWork(eventstore=eventstore, books=FakeBookRepository())
    async with first as committing:
        await bus.handle(register(1), committing)
        async with second as rolling_back:
            await bus.handle(register(2), rolling_back)
            await rolling_back.rollback()
        await committing.commit()
    return first, second


async def test_only_the_rolled_back_transactions_messages_are_marked(bus, eventstore, transport):
    first, second = await run(bus, eventstore)
    assert flow(eventstore) == registration(1, True) + registration(2, False)
    assert recorded_messages(first) == [register(1), registered(1)]
    assert recorded_messages(second) == [register(1), registered(1)]
    assert list(eventstore.messages) == [register(1), registered(1)]
    assert keys(FakeBookRepository.books) == [1]
    assert event_ids(transport) == [str(UUID(int=1))]


async def test_section(bus, eventstore):
    await run(bus, eventstore)
    assert False, "show the section"
"""
)


def test_two_units_of_work_sharing_one_message_store(project: pytest.Pytester) -> None:
    project.makepyfile(test_shared_store=SHARED_STORE)
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_section _*",
            *_section(
                "Messages recorded (4), in order:",
                f"  [0] committed    RegisterBook(id=UUID('{_id(1)}')*",
                f"  [1] committed    BookRegistered(id=UUID('{_id(1)}')*",
                f"  [2] rolled back  RegisterBook(id=UUID('{_id(2)}')*",
                f"  [3] rolled back  BookRegistered(id=UUID('{_id(2)}')*",
                "Events sent to transport (1):",
            ),
        ]
    )


LEFT_OPEN = (
    HEADER
    + """
async def leave_open(bus, uow):
    with pytest.raises(Exception, match="Missing commit/rollback call"):
        async with uow as transaction:
            await bus.handle(register(1), transaction)


async def test_messages_are_rolled_back(bus, uow, eventstore, transport):
    await leave_open(bus, uow)
    assert flow(uow) == registration(1, False)
    assert recorded_messages(uow) == []
    assert list(eventstore.messages) == []
    assert dict(FakeBookRepository.books) == {}
    assert transport.events == []
    assert_messages(uow, [])


@pytest.mark.messagebus_strict
async def test_strict_mode_has_nothing_to_check(bus, uow):
    await leave_open(bus, uow)


def test_sync_messages_are_rolled_back(sync_bus, sync_uow, sync_eventstore):
    with pytest.raises(Exception, match="Missing commit/rollback call"):
        with sync_uow as transaction:
            sync_bus.handle(register(1), transaction)
    assert flow(sync_uow) == registration(1, False)
    assert list(sync_eventstore.messages) == []
    assert dict(SyncFakeBookRepository.books) == {}


async def test_section(bus, uow):
    await leave_open(bus, uow)
    assert False, "show the section"
"""
)


def test_block_left_without_commit_or_rollback_is_rolled_back(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(test_left_open=LEFT_OPEN)
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_section _*",
            *_section(
                "Messages recorded (2), in order:",
                f"  [0] rolled back  RegisterBook(id=UUID('{_id(1)}')*",
                f"  [1] rolled back  BookRegistered(id=UUID('{_id(1)}')*",
                "Events sent to transport (0):",
            ),
        ]
    )


CUSTOM_ADD = (
    HEADER
    + """
class OwnAddStore(InMemoryEventstoreRepository):
    async def add(self, message):
        await self._add(message)
        self.stream_buffer.append(message)


async def run(bus, eventstore):
    uow = InMemoryUnitOfWork(
        eventstore=OwnAddStore(publisher=eventstore.publisher), books=FakeBookRepository()
    )
    async with uow as transaction:
        await bus.handle(register(1), transaction)
        await transaction.commit()
    return uow


async def test_store_overriding_add_is_recorded(bus, eventstore, transport):
    uow = await run(bus, eventstore)
    assert recorded_messages(uow) == [register(1), registered(1)]
    assert flow(uow) == registration(1, True)
    assert_messages(uow, [register(1), registered(1)])
    assert event_ids(transport) == [str(UUID(int=1))]


async def test_section(bus, eventstore):
    await run(bus, eventstore)
    assert False, "show the section"
"""
)


def test_message_store_overriding_add_is_recorded(project: pytest.Pytester) -> None:
    project.makepyfile(test_custom_add=CUSTOM_ADD)
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_section _*",
            *_section(
                "Messages recorded (2), in order:",
                f"  [0] committed    RegisterBook(id=UUID('{_id(1)}')*",
                f"  [1] committed    BookRegistered(id=UUID('{_id(1)}')*",
                "Events sent to transport (1):",
            ),
        ]
    )


STREAMING = (
    HEADER
    + """
async def stream(bus, uow, n, commit):
    # messagebus refuses commit() once detached: a streamed transaction that is to
    # be kept commits before detach(); close() then ends it.
    async with uow as transaction:
        await bus.handle(register(n), transaction)
        if commit:
            await transaction.commit()
        await transaction.detach()
    # Detached, the transaction outlives its block: still open, and private
    # (another context, such as another task's, does not see its book).
    if not commit:
        assert keys(transaction.books.books) == [n]
        assert contextvars.Context().run(lambda: dict(FakeBookRepository.books)) == {}
    await transaction.close()


async def test_close_without_commit_rolls_back(bus, uow, eventstore, transport):
    await stream(bus, uow, 1, commit=False)
    assert flow(uow) == registration(1, False)
    assert list(eventstore.messages) == []
    assert dict(FakeBookRepository.books) == {}
    assert transport.events == []


async def test_commit_before_detach_stays_committed_and_is_not_streamed(
    bus, uow, eventstore, transport
):
    # messagebus's close() rolls a detached transaction back whatever came
    # before, and streams nothing: the commit stands, as in a database.
    await stream(bus, uow, 1, commit=True)
    assert flow(uow) == registration(1, True)
    assert list(eventstore.messages) == [register(1), registered(1)]
    assert keys(FakeBookRepository.books) == [1]
    assert transport.events == []


async def test_section(bus, uow):
    await stream(bus, uow, 1, commit=False)
    await stream(bus, uow, 2, commit=True)
    assert False, "show the section"
"""
)


def test_detached_streaming_transactions(project: pytest.Pytester) -> None:
    project.makepyfile(test_streaming=STREAMING)
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_section _*",
            *_section(
                "Messages recorded (4), in order:",
                f"  [0] rolled back  RegisterBook(id=UUID('{_id(1)}')*",
                f"  [1] rolled back  BookRegistered(id=UUID('{_id(1)}')*",
                f"  [2] committed    RegisterBook(id=UUID('{_id(2)}')*",
                f"  [3] committed    BookRegistered(id=UUID('{_id(2)}')*",
                "Events sent to transport (0):",
            ),
        ]
    )
