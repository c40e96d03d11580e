"""A command the session bus handles with no handler: a warning, and a note on the test."""

from __future__ import annotations

import pytest

COMMANDS = """
from uuid import UUID

import pytest
from messagebus import Command, Metadata
from library.domain import RegisterBook
from pytest_messagebus_eventstore import _state, assert_messages


class ReturnBook(Command):
    id: UUID
    metadata: Metadata = Metadata(name="return_book", schema_version=1)


def register(n):
    return RegisterBook(id=UUID(int=n), isbn=str(n), title=f"Book {n}", author="A")
"""

# A listener that queues a command nothing handles.
SHELVING = """

from uuid import UUID

from messagebus import Command, Metadata

from library.domain import BookRegistered


class ShelveBook(Command):
    id: UUID
    metadata: Metadata = Metadata(name="shelve_book", schema_version=1)


@async_listen
async def shelve(event: BookRegistered, uow) -> None:
    book = await uow.books.by_id(event.id)
    book.messages.append(ShelveBook(id=event.id))
    uow.books.seen.append(book)
"""


def test_command_without_handler_warns_and_is_noted(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_returns=COMMANDS
        + """

async def test_async(bus, uow):
    async with uow as transaction:
        await bus.handle(ReturnBook(id=UUID(int=1)), transaction)
        await transaction.commit()
    assert _state.running[-1].unhandled == [
        (ReturnBook, "messagebus_scan", "test_returns.py:20")
    ]


def test_sync(sync_bus, sync_uow):
    with sync_uow as transaction:
        sync_bus.handle(ReturnBook(id=UUID(int=2)), transaction)
        transaction.commit()
    assert _state.running[-1].unhandled == [
        (ReturnBook, "messagebus_sync_scan", "test_returns.py:29")
    ]


async def test_next_starts_with_none(bus, uow):
    async with uow as transaction:
        await bus.handle(register(1), transaction)
        await transaction.commit()
    assert _state.running[-1].unhandled == []
"""
    )
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "*= warnings summary =*",
            "test_returns.py::test_async",
            "  */test_returns.py:20: PytestWarning: messagebus: no handler for the command "
            "ReturnBook on the async bus, so it was only stored. The messagebus_scan ini option "
            "lists: library.handlers; list the module of its handler there.",
            "    await bus.handle(ReturnBook(id=UUID(int=1)), transaction)",
            "test_returns.py::test_sync",
            "  */test_returns.py:29: PytestWarning: messagebus: no handler for the command "
            "ReturnBook on the sync bus, so it was only stored. The messagebus_sync_scan ini "
            "option lists: library.sync_handlers; list the module of its handler there.",
            "    sync_bus.handle(ReturnBook(id=UUID(int=2)), transaction)",
        ]
    )
    result.stdout.no_fnmatch_line("test_returns.py::test_next_starts_with_none")


def test_command_queued_by_a_handler_warns_at_the_tests_call(project: pytest.Pytester) -> None:
    with project.path.joinpath("library", "handlers.py").open("a") as handlers:
        handlers.write(SHELVING)
    project.makepyfile(
        test_shelving=COMMANDS
        + """

async def test_act(bus, uow):
    async with uow as transaction:
        await bus.handle(register(1), transaction)
        await transaction.commit()
    (kind, option, where), = _state.running[-1].unhandled
    assert kind.__name__ == "ShelveBook"
    assert (option, where) == ("messagebus_scan", "test_shelving.py:20")


@pytest.mark.messagebus_given(register(2))
async def test_arranged(uow):
    (kind, option, where), = _state.running[-1].unhandled
    assert (kind.__name__, where) == ("ShelveBook", "test_shelving.py:27")
"""
    )
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "test_shelving.py::test_act",
            "  */test_shelving.py:20: PytestWarning: messagebus: no handler for the command "
            "ShelveBook on the async bus, *",
            "    await bus.handle(register(1), transaction)",
            # From the marker's arrangement: the test it was for.
            "test_shelving.py::test_arranged",
            "  */test_shelving.py:27: PytestWarning: messagebus: no handler for the command "
            "ShelveBook on the async bus, *",
        ]
    )


def test_handled_commands_and_events_without_listeners_do_not_warn(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        COMMANDS
        + """

async def test_handled(bus, uow, eventstore):
    async with uow as transaction:
        await bus.handle(register(1), transaction)
        await transaction.commit()
    # BookRegistered has no listener: an event may have none.
    assert len(eventstore.messages) == 2
    assert _state.running[-1].unhandled == []
"""
    )
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*no handler for the command*")


def test_the_report_section_and_strict_mode_name_the_command(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_returns=COMMANDS
        + """

async def test_fails(bus, uow):
    async with uow as transaction:
        await bus.handle(ReturnBook(id=UUID(int=1)), transaction)
        await transaction.commit()
    assert False


@pytest.mark.messagebus_strict
async def test_strict(bus, uow, eventstore):
    async with uow as transaction:
        await bus.handle(ReturnBook(id=UUID(int=1)), transaction)
        await transaction.commit()
    assert_messages(eventstore, [ReturnBook])
"""
    )
    result = project.runpytest("-p", "no:randomly", "-W", "ignore::pytest.PytestWarning")
    result.assert_outcomes(passed=1, failed=1, errors=1)
    no_handler = (
        "No handler for the command ReturnBook (handled at test_returns.py:{line}): messagebus "
        "only stored it; list the module of its handler in the messagebus_scan ini option."
    )
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_strict _*",
            "messagebus strict mode: a command found no handler.",
            no_handler.format(line=28),
            "To opt this test out, mark it @pytest.mark.messagebus_strict(False).",
            "*- messagebus eventstore -*",
            "Messages recorded (1), in order:",
            "  [[]0[]] committed    ReturnBook(*)",
            "Events sent to transport (0):",
            no_handler.format(line=20),
        ]
    )
