"""``tuow``, ``messagebus_handle`` and ``messagebus_read``, and their sync twins."""

from __future__ import annotations

import pytest
import pytest_asyncio

COMMANDS = """
from uuid import UUID

import pytest
from library.domain import Book, LendBook, RegisterBook
from pytest_messagebus_eventstore import assert_messages


def register(n):
    return RegisterBook(id=UUID(int=n), isbn=str(n), title=f"Book {n}", author="A")


def book(n):
    return Book(id=UUID(int=n), isbn=str(n), title=f"Book {n}", author="A")
"""

CONTEXT = tuple(map(int, pytest_asyncio.__version__.split(".")[:2])) >= (0, 24)
needs_context = pytest.mark.skipif(
    not CONTEXT, reason="pytest-asyncio < 0.24 runs a test outside its fixtures' context"
)


def test_handle_commits_and_returns_what_the_handler_returned(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_commands=COMMANDS
        + """

async def test_handle(messagebus_handle, uow, transport):
    returned = await messagebus_handle(register(1))
    assert returned == book(1)
    assert uow.books.books == {UUID(int=1): book(1)}
    assert_messages(uow, [register(1), like_registered(1)])
    # Published: the transaction was committed.
    assert_messages(transport, [register(1)])


async def test_raising_handler_rolls_back(messagebus_handle, uow):
    await messagebus_handle(register(1))
    with pytest.raises(ValueError, match="nobody"):
        await messagebus_handle(LendBook(id=UUID(int=1), to="nobody"))
    assert uow.books.books[UUID(int=1)].lent_to is None


def test_sync(messagebus_sync_handle, sync_uow):
    assert messagebus_sync_handle(register(2)) == book(2)
    assert list(sync_uow.books.books) == [UUID(int=2)]


def like_registered(n):
    from library.domain import BookRegistered

    return BookRegistered(id=UUID(int=n), isbn=str(n), title=f"Book {n}", author="A")
"""
    )
    result = project.runpytest("-p", "no:randomly", "-v")
    result.assert_outcomes(passed=3)


def test_handle_passes_transient_dependencies_through(project: pytest.Pytester) -> None:
    project.makepyfile(
        notifier="""
        from messagebus import AsyncDependency


        class Notifier(AsyncDependency):
            def __init__(self):
                self.sent = []

            async def on_after_commit(self):
                self.sent.append("committed")

            async def on_after_rollback(self):
                self.sent.append("rolled back")
        """,
        handlers="""
        from messagebus import async_listen
        from library.domain import RegisterBook


        @async_listen
        async def register_book(cmd: RegisterBook, uow, notifier) -> str:
            return "notified"
        """,
        test_deps=COMMANDS
        + """
from notifier import Notifier


async def test_dependency(messagebus_handle):
    notifier = Notifier()
    assert await messagebus_handle(register(1), notifier=notifier) == "notified"
    assert notifier.sent == ["committed"]
""",
    )
    result = project.runpytest("-p", "no:randomly", "-o", "messagebus_scan=handlers")
    result.assert_outcomes(passed=1)


def test_read_runs_the_query_in_a_transaction_of_its_own(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_read=COMMANDS
        + """

async def test_read(messagebus_handle, messagebus_read, uow):
    await messagebus_handle(register(1))
    assert await messagebus_read(lambda t: t.books.by_id(UUID(int=1))) == book(1)
    # A plain value, and what the query wrote is rolled back.
    assert await messagebus_read(lambda t: t.books.books.pop(UUID(int=1))) == book(1)
    assert list(uow.books.books) == [UUID(int=1)]


async def test_async_iterator_is_read_in_the_transaction(messagebus_handle, messagebus_read):
    await messagebus_handle(register(1))
    await messagebus_handle(register(2))

    async def titles(transaction):
        for row in transaction.books.books.values():
            yield row.title

    assert await messagebus_read(titles) == ["Book 1", "Book 2"]


def test_sync_read(messagebus_sync_handle, messagebus_sync_read):
    messagebus_sync_handle(register(1))

    def isbns(transaction):
        yield from (row.isbn for row in transaction.books.books.values())

    assert messagebus_sync_read(isbns) == ["1"]
    assert messagebus_sync_read(lambda t: t.books.by_id(UUID(int=1))) == book(1)
"""
    )
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=3)


def test_misuse_is_refused_with_what_to_write(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_misuse=COMMANDS
        + """

async def test_class_instead_of_command(messagebus_handle):
    await messagebus_handle(RegisterBook)


async def test_not_a_query(messagebus_read):
    await messagebus_read(book(1))


def test_async_query_in_sync_read(messagebus_sync_read):
    async def query(transaction):
        return 1

    messagebus_sync_read(query)
"""
    )
    result = project.runpytest("-p", "no:randomly", "-W", "error::RuntimeWarning")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(
        [
            "E*TypeError: messagebus_handle() expects messagebus commands or events, got the "
            "class RegisterBook; pass an instance: RegisterBook(...).",
            "E*TypeError: messagebus_read() takes a query: a callable that receives the "
            "transaction, e.g. messagebus_read(lambda t: t.books.by_id(book_id)); got Book *",
            "E*TypeError: messagebus_sync_read(): the query returned coroutine, an awaitable; "
            "a sync unit of work reads with sync repositories.",
        ]
    )


def test_handle_and_read_never_awaited_fail_at_teardown(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_forgot=COMMANDS
        + """

async def test_handle(messagebus_handle):
    messagebus_handle(register(1))


async def test_read(messagebus_read):
    messagebus_read(lambda t: t.books.books)
"""
    )
    result = project.runpytest("-p", "no:randomly", "-W", "error::RuntimeWarning")
    result.assert_outcomes(passed=2, errors=2)
    result.stdout.fnmatch_lines(
        [
            "  test_forgot.py:17: messagebus_handle(RegisterBook(...))",
            "  test_forgot.py:21: messagebus_read(...)",
        ]
    )


@needs_context
def test_tuow_is_open_and_rolled_back_unless_the_test_ended_it(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_tuow=COMMANDS
        + """
from pytest_messagebus_eventstore import InMemoryUnitOfWork


@pytest.fixture
def nothing_committed(transport, uow):
    # Torn down after tuow: sees what its teardown did.
    yield
    assert transport.events == []
    assert uow.books.books == {}


async def test_left_open(nothing_committed, tuow, bus):
    await bus.handle(register(1), tuow)
    assert list(tuow.books.books) == [UUID(int=1)]
    # Not committed: another transaction does not see it.
    async with InMemoryUnitOfWork(books=type(tuow.books)()) as other:
        assert other.books.books == {}
        await other.rollback()


async def test_nothing_left(uow):
    assert uow.books.books == {}


async def test_committed(tuow, bus, uow, transport):
    await bus.handle(register(2), tuow)
    await tuow.commit()
    assert list(uow.books.books) == [UUID(int=2)]


async def test_rolled_back(tuow, bus):
    await bus.handle(register(3), tuow)
    await tuow.rollback()
    assert tuow.books.books == {}


def test_sync(sync_tuow, sync_bus, sync_uow):
    sync_bus.handle(register(4), sync_tuow)
    assert list(sync_tuow.books.books) == [UUID(int=4)]


def test_sync_nothing_left(sync_uow):
    assert sync_uow.books.books == {}
"""
    )
    result = project.runpytest("-p", "no:randomly", "-v")
    result.assert_outcomes(passed=6)


@pytest.mark.skipif(CONTEXT, reason="pytest-asyncio >= 0.24 runs a test in its fixtures' context")
def test_tuow_refuses_an_old_pytest_asyncio(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_old="""
        async def test_open(tuow):
            pass
        """
    )
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "tuow: the test would not see this transaction: pytest-asyncio 0.* runs a test "
            "outside the context its async fixtures set up. Upgrade to pytest-asyncio 0.24 or "
            "later, or open the transaction in the test: `async with uow as transaction:`.",
        ]
    )
