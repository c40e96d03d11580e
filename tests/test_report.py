"""The report of a failing test shows the message flow of the bus."""

from __future__ import annotations

import pytest

# Shared with the in-process runs below (see test_assertions.py).
import pytest_messagebus_eventstore.assertions  # noqa: F401

TESTS = """
from uuid import UUID

from library.domain import LendBook, RegisterBook

ID = UUID(int=1)

async def test_lend_to_nobody(bus, uow, transport):
    async with uow as transaction:
        await bus.handle(RegisterBook(id=ID, isbn="1", title="DDD", author="Evans"), transaction)
        await transaction.commit()
    async with uow as transaction:
        await bus.handle(LendBook(id=ID, to="nobody"), transaction)
        await transaction.commit()

async def test_passes(bus, uow, transport):
    async with uow as transaction:
        await bus.handle(RegisterBook(id=ID, isbn="1", title="DDD", author="Evans"), transaction)
        await transaction.commit()

def test_fails_without_the_bus():
    assert False
"""


def test_failing_test_report_shows_messages_events_and_cause(project: pytest.Pytester) -> None:
    project.makepyfile(test_flow=TESTS)
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*_ test_lend_to_nobody _*",
            "E           ValueError: cannot lend a book to nobody",
            "*- messagebus eventstore -*",
            "Messages recorded (2), in order:",
            "  [[]0[]] committed    RegisterBook(id=UUID('00000000-0000-0000-0000-000000000001'), "
            "isbn='1', title='DDD', author='Evans')",
            "  [[]1[]] committed    BookRegistered(*)",
            "Events sent to transport (1):",
            "  [[]0[]] register_book_v1(id='00000000-0000-0000-0000-000000000001', isbn='1', "
            "title='DDD', author='Evans')",
            "Probable cause: a handler raised ValueError: cannot lend a book to nobody "
            "(the transaction was rolled back)",
            "*_ test_fails_without_the_bus _*",
        ]
    )
    # One section: the test that never touched the bus has none.
    assert result.stdout.str().count("messagebus eventstore ---") == 1


def test_rolled_back_messages_are_listed_as_such(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_rollback="""
from uuid import UUID

from library.domain import RegisterBook

async def test_rollback(bus, uow, eventstore):
    async with uow as transaction:
        await bus.handle(RegisterBook(id=UUID(int=3), isbn="3", title="T", author="A"), transaction)
        await transaction.rollback()
    assert eventstore.messages
"""
    )
    result = project.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*- messagebus eventstore -*",
            "Messages recorded (2), in order:",
            "  [[]0[]] rolled back  RegisterBook(*)",
            "  [[]1[]] rolled back  BookRegistered(*)",
            "Events sent to transport (0):",
        ]
    )


def test_section_of_a_sync_flow(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_sync="""
from uuid import UUID

from library.domain import RegisterBook

def test_sync(sync_bus, sync_uow, sync_transport):
    with sync_uow as transaction:
        sync_bus.handle(RegisterBook(id=UUID(int=2), isbn="2", title="T", author="A"), transaction)
        transaction.commit()
    assert sync_transport.events == []
"""
    )
    result = project.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*- messagebus eventstore -*",
            "Messages recorded (2), in order:",
            "  [[]0[]] committed    RegisterBook(*)",
            "  [[]1[]] committed    BookRegistered(*)",
            "Events sent to sync_transport (1):",
            "  [[]0[]] register_book_v1(*)",
        ]
    )


def test_section_of_a_failing_setup(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_setup="""
from uuid import UUID

import pytest
from library.domain import RegisterBook

@pytest.fixture
async def registered(bus, uow):
    async with uow as transaction:
        book = RegisterBook(id=UUID(int=4), isbn="4", title="T", author="A")
        await bus.handle(book, transaction)
        await transaction.commit()
    raise RuntimeError("the given step broke")

def test_needs_a_book(registered):
    pass
"""
    )
    result = project.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at setup of test_needs_a_book _*",
            "E       RuntimeError: the given step broke",
            "*- messagebus eventstore -*",
            "Messages recorded (2), in order:",
            "  [[]0[]] committed    RegisterBook(id=UUID('0000*4'), isbn='4', title='T', *)",
            "Events sent to transport (1):",
        ]
    )


def test_no_section_when_the_bus_did_nothing(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_unrelated="""
from library.domain import RegisterBook

async def test_unrelated(uow, transport):
    assert uow.books.seen == ["a book"]

async def test_events_only(transport, messagebus_serializer):
    from uuid import UUID
    command = RegisterBook(id=UUID(int=5), isbn="5", title="T", author="A")
    await transport.send_message_serialized(messagebus_serializer.serialize_message(command))
    assert transport.events == []
"""
    )
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*_ test_unrelated _*",
            "E       AssertionError: assert [[][]] == [[]'a book'[]]",
            "*_ test_events_only _*",
            "*- messagebus eventstore -*",
            "Events sent to transport (1):",
            "  [[]0[]] register_book_v1(id='00000000-0000-0000-0000-000000000005', *)",
        ]
    )
    # One section, for the test that sent an event; and no empty list of messages.
    assert result.stdout.str().count("messagebus eventstore ---") == 1
    result.stdout.no_fnmatch_line("Messages recorded*")
