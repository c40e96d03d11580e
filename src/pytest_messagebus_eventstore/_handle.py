"""Transactions for the test: an open one (``tuow``), a committed command, a query.

Every suite writes these three around its unit of work; they take ``bus`` and
``uow`` by name, so a conftest's own ``uow`` (a SQL one, a parametrized one) is
the one they use. The plugin module registers the fixtures; the sync twins of
an unasync-generated suite (see _twins) reuse the functions below.
"""

from __future__ import annotations

import inspect
import sys
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio

from ._awaited import record
from ._given import check_handlers, listed_with_the_plugin

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Coroutine, Iterator


def _still_running(transaction: Any) -> bool:
    # By name: messagebus 0.12 has a status enum per flavour.
    return getattr(transaction.status, "name", None) == "running"


# Whether pytest-asyncio runs a test in the context its async fixtures set up.
_CONTEXT_REACHES_THE_TEST = tuple(map(int, pytest_asyncio.__version__.split(".")[:2])) >= (0, 24)


async def open_transaction(uow: Any, fixture: str) -> AsyncIterator[Any]:
    """The body of ``tuow``: an open transaction, rolled back unless the test ended it."""
    if not _CONTEXT_REACHES_THE_TEST:
        pytest.fail(
            f"{fixture}: the test would not see this transaction: pytest-asyncio "
            f"{pytest_asyncio.__version__} runs a test outside the context its async fixtures "
            f"set up. Upgrade to pytest-asyncio 0.24 or later, or open the transaction in "
            "the test: `async with uow as transaction:`.",
            pytrace=False,
        )
    async with uow as transaction:
        yield transaction
        if _still_running(transaction):
            await transaction.rollback()


def sync_open_transaction(uow: Any) -> Iterator[Any]:
    """Sync twin of :func:`open_transaction`."""
    with uow as transaction:
        yield transaction
        if _still_running(transaction):
            transaction.rollback()


def _check_command(bus: Any, command: Any, origin: str, flavour: str) -> None:
    __tracebackhide__ = True
    check_handlers(bus, (command,), origin, flavour, raise_type_error=True)


async def _handled(bus: Any, uow: Any, command: Any, dependencies: Any, called_as: str) -> Any:
    async with uow as transaction:
        result = await bus.handle(command, transaction, **dependencies)
        await transaction.commit()
    return result


def handler(bus: Any, uow: Any, called_as: str) -> Callable[..., Coroutine[Any, Any, Any]]:
    """``await handle(command, **dependencies)``: the command handled and committed."""

    def handle(command: Any, /, **dependencies: Any) -> Coroutine[Any, Any, Any]:
        # Not a coroutine function: the command is checked at the call, and
        # the coroutine is recorded with the caller's line for a missing await.
        __tracebackhide__ = True
        _check_command(bus, command, f"{called_as}()", "async")
        return record(_handled(bus, uow, command, dependencies, called_as), sys._getframe(1))

    return handle


def sync_handler(bus: Any, uow: Any, called_as: str) -> Callable[..., Any]:
    """Sync twin of :func:`handler`."""

    def handle(command: Any, /, **dependencies: Any) -> Any:
        __tracebackhide__ = True
        _check_command(bus, command, f"{called_as}()", "sync")
        with uow as transaction:
            result = bus.handle(command, transaction, **dependencies)
            transaction.commit()
        return result

    return handle


def _check_query(query: Any, called_as: str) -> None:
    __tracebackhide__ = True
    if not callable(query):
        raise TypeError(
            f"{called_as}() takes a query: a callable that receives the transaction, "
            f"e.g. {called_as}(lambda t: t.books.by_id(book_id)); got {type(query).__name__} "
            f"{query!r}."
        )


async def _read(uow: Any, query: Any, called_as: str) -> Any:
    async with uow as transaction:
        result = query(transaction)
        if inspect.isawaitable(result):
            result = await result
        elif hasattr(result, "__aiter__"):
            # Read now: iterated after the rollback, it would read outside the transaction.
            result = [row async for row in result]
        await transaction.rollback()
    return result


def reader(uow: Any, called_as: str) -> Callable[[Any], Coroutine[Any, Any, Any]]:
    """``await read(query)``: ``query(transaction)`` in a transaction of its own, rolled back."""

    def read(query: Any, /) -> Coroutine[Any, Any, Any]:
        __tracebackhide__ = True
        _check_query(query, called_as)
        return record(_read(uow, query, called_as), sys._getframe(1))

    return read


def sync_reader(uow: Any, called_as: str) -> Callable[[Any], Any]:
    """Sync twin of :func:`reader`."""

    def read(query: Any, /) -> Any:
        __tracebackhide__ = True
        _check_query(query, called_as)
        with uow as transaction:
            result = query(transaction)
            if inspect.isawaitable(result):
                # Closed: never awaited, Python would warn about it later.
                getattr(result, "close", lambda: None)()
                raise TypeError(
                    f"{called_as}(): the query returned {type(result).__name__}, an awaitable; "
                    "a sync unit of work reads with sync repositories."
                )
            if inspect.isgenerator(result):
                result = list(result)
            transaction.rollback()
        return result

    return read


@pytest_asyncio.fixture
@listed_with_the_plugin
async def tuow(uow: Any) -> AsyncIterator[Any]:
    """An open transaction of ``uow`` for the test: ``await tuow.books.add(book)``.

    Rolled back at the teardown, unless the test committed or rolled it back
    itself. Its commit publishes, as any transaction's.
    """
    async for transaction in open_transaction(uow, "tuow"):
        yield transaction


@pytest.fixture
@listed_with_the_plugin
def sync_tuow(sync_uow: Any) -> Iterator[Any]:
    """Sync twin of ``tuow``: an open transaction of ``sync_uow``."""
    yield from sync_open_transaction(sync_uow)


@pytest.fixture
@listed_with_the_plugin
def messagebus_handle(bus: Any, uow: Any) -> Callable[..., Coroutine[Any, Any, Any]]:
    """``await messagebus_handle(command, **dependencies)``: one committed transaction.

    Handles the command with ``bus`` in a transaction of ``uow``, commits it
    and returns what the command's handler returned. Keyword arguments are
    transient dependencies, passed to ``bus.handle``. If a handler raises, the
    transaction is rolled back and the exception propagates.
    """
    return handler(bus, uow, "messagebus_handle")


@pytest.fixture
@listed_with_the_plugin
def messagebus_sync_handle(sync_bus: Any, sync_uow: Any) -> Callable[..., Any]:
    """Sync twin of ``messagebus_handle``, with ``sync_bus`` and ``sync_uow``."""
    return sync_handler(sync_bus, sync_uow, "messagebus_sync_handle")


@pytest.fixture
@listed_with_the_plugin
def messagebus_read(uow: Any) -> Callable[[Any], Coroutine[Any, Any, Any]]:
    """``await messagebus_read(lambda t: t.books.by_id(book_id))``: a query, rolled back.

    Calls the query with an open transaction of ``uow``, awaits what it
    returns (an async iterator is read into a list), rolls the transaction
    back and returns the result.
    """
    return reader(uow, "messagebus_read")


@pytest.fixture
@listed_with_the_plugin
def messagebus_sync_read(sync_uow: Any) -> Callable[[Any], Any]:
    """Sync twin of ``messagebus_read``, with ``sync_uow`` (a generator is read into a list)."""
    return sync_reader(sync_uow, "messagebus_sync_read")
