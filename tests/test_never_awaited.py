"""A forgotten ``await`` on ``bus.handle`` or ``messagebus_given`` fails the test at teardown."""

from __future__ import annotations

import pytest

COMMANDS = """
import asyncio
from uuid import UUID

import pytest
from library.domain import LendBook, RegisterBook


def register(n):
    return RegisterBook(id=UUID(int=n), isbn=str(n), title=f"Book {n}", author="A")
"""


def test_unawaited_calls_fail_at_teardown_naming_the_call_and_line(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        test_calls=COMMANDS
        + """

async def test_async_handle(bus, uow):
    async with uow as transaction:
        bus.handle(register(1), transaction)
        await transaction.commit()


def test_sync_test_handle(bus, uow):
    bus.handle(register(1), uow)


async def test_given(messagebus_given):
    messagebus_given(register(1), LendBook(id=UUID(int=1), to="Alice"))


async def test_two(bus, uow, messagebus_given):
    bus.handle(register(1), uow)
    messagebus_given(register(2))


async def test_after(uow):
    assert uow.books.books == {}
"""
    )
    result = project.runpytest("-p", "no:randomly", "-W", "error::RuntimeWarning")
    result.assert_outcomes(passed=5, errors=4)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_async_handle _*",
            "messagebus: a call was never awaited, so it handled nothing:",
            "  test_calls.py:14: bus.handle(RegisterBook(...))",
            "Add `await` before the call; a sync test uses sync_bus and messagebus_sync_given.",
            "*_ ERROR at teardown of test_sync_test_handle _*",
            "messagebus: a call was never awaited, so it handled nothing:",
            "  test_calls.py:19: bus.handle(RegisterBook(...))",
            "*_ ERROR at teardown of test_given _*",
            "messagebus: a call was never awaited, so it handled nothing:",
            "  test_calls.py:23: messagebus_given(RegisterBook(...), LendBook(...))",
            "*_ ERROR at teardown of test_two _*",
            "messagebus: 2 calls were never awaited, so they handled nothing:",
            "  test_calls.py:27: bus.handle(RegisterBook(...))",
            "  test_calls.py:28: messagebus_given(RegisterBook(...))",
        ]
    )
    # Closed: Python does not warn about them in addition.
    result.stdout.no_fnmatch_line("*was never awaited*RuntimeWarning*")
    result.stdout.no_fnmatch_line("*RuntimeWarning*")
    result.stdout.no_fnmatch_line("*ERROR at teardown of test_after*")


def test_awaited_or_run_by_a_task_passes(project: pytest.Pytester) -> None:
    project.makepyfile(
        COMMANDS
        + """

async def test_awaited(bus, uow, messagebus_given):
    await messagebus_given(register(1))
    async with uow as transaction:
        await bus.handle(LendBook(id=UUID(int=1), to="Alice"), transaction)
        await transaction.commit()


async def test_task(bus, uow):
    async with uow as transaction:
        task = asyncio.create_task(bus.handle(register(1), transaction))
        await asyncio.sleep(0)
        await task
        await transaction.commit()
    assert list(uow.books.books) == [UUID(int=1)]


async def test_gathered(bus, uow):
    async with uow as transaction:
        await asyncio.gather(*(bus.handle(register(n), transaction) for n in (1, 2)))
        await transaction.commit()
"""
    )
    result = project.runpytest("-p", "no:randomly", "-W", "error::RuntimeWarning")
    result.assert_outcomes(passed=3)
