"""assert_messages and like(): what passes, and what a failure tells the user."""

from __future__ import annotations

# Imported before any in-process pytest run, so that the runs share these
# modules: pytester drops what a run imported, and a fresh messagebus would
# define classes that the plugin's cached assert_messages does not recognise.
import pytest

import pytest_messagebus_eventstore.assertions  # noqa: F401

HEADER = """
from uuid import UUID

import pytest
from library.domain import BookLent, BookRegistered, LendBook, RegisterBook
from pytest_messagebus_eventstore import assert_messages, like

ID = UUID(int=1)
CMD = RegisterBook(id=ID, isbn="1", title="DDD", author="Evans")
EVENT = BookRegistered(id=ID, isbn="1", title="DDD", author="Evans")
"""


def run(project: pytest.Pytester, body: str, *args: str) -> pytest.RunResult:
    project.makepyfile(test_flow=HEADER + body)
    return project.runpytest("-p", "no:randomly", *args)


def test_first_differing_position_field_and_values(project: pytest.Pytester) -> None:
    result = run(
        project,
        """
def test_three():
    recorded = [CMD, EVENT.model_copy(update={"title": "Domain Driven Design"}), CMD]
    assert_messages(recorded, [CMD, EVENT, CMD])
""",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            ">       assert_messages(recorded, [[]CMD, EVENT, CMD[]])",
            "E       AssertionError: recorded messages differ from the expected ones at index 1",
            "E       At index 1 (BookRegistered), 1 field differs:",
            "E         title: expected 'DDD', recorded 'Domain Driven Design'",
            "E       Recorded messages:",
            "E         [[]0[]] RegisterBook(id=UUID('00000000-0000-0000-0000-000000000001'), "
            "isbn='1', title='DDD', author='Evans')",
            "E         [[]1[]] BookRegistered(*title='Domain Driven Design'*)  <- differs",
            "E         [[]2[]] RegisterBook(*)",
            "test_flow.py:13: AssertionError",
        ]
    )
    result.stdout.no_fnmatch_line("*assertions.py*")
    result.stdout.no_fnmatch_line("*_render.py*")


def test_store_uow_transaction_and_transport_pass(project: pytest.Pytester) -> None:
    result = run(
        project,
        """
async def test_flow(bus, uow, eventstore, transport):
    async with uow as transaction:
        await bus.handle(CMD, transaction)
        assert_messages(transaction, [CMD, EVENT])
        await transaction.commit()
    assert_messages(eventstore, [CMD, EVENT])
    assert_messages(uow, [RegisterBook, like(BookRegistered, title="DDD")])
    assert_messages(eventstore.messages, [EVENT, CMD], ordered=False)
    # The stream holds serialized events: matched by type and payload, not by id.
    assert_messages(transport, [CMD])
    assert_messages(transport, [RegisterBook])
    assert_messages(transport, [like(RegisterBook, id=ID, title="DDD")])

def test_sync(sync_bus, sync_uow, sync_eventstore, sync_transport):
    with sync_uow as transaction:
        sync_bus.handle(CMD, transaction)
        transaction.commit()
    assert_messages(sync_eventstore, [CMD, EVENT])
    assert_messages(sync_uow, [CMD, EVENT])
    assert_messages(sync_transport, [CMD])
""",
    )
    result.assert_outcomes(passed=2)


def test_unordered_failure_lists_missing_and_unexpected(project: pytest.Pytester) -> None:
    result = run(
        project,
        """
def test_unordered():
    lent = BookLent(id=ID, to="Alice")
    other = EVENT.model_copy(update={"title": "Other"})
    assert_messages([lent, CMD, other], [EVENT, lent, CMD], ordered=False)
""",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E       AssertionError: recorded messages differ from the expected ones "
            "(in any order): 1 expected but not recorded, 1 recorded but not expected",
            "E       Expected [[]0[]] and recorded [[]2[]] (BookRegistered), 1 field differs:",
            "E         title: expected 'DDD', recorded 'Other'",
            "E       The following messages were expected but not recorded:",
            "E         [[]0[]] BookRegistered(id=UUID('*'), isbn='1', title='DDD', author='Evans')",
            "E       The following messages were recorded but not expected:",
            "E         [[]2[]] BookRegistered(id=UUID('*'), isbn='1', title='Other', *)",
        ]
    )


def test_extra_message_is_listed_with_its_position(project: pytest.Pytester) -> None:
    result = run(
        project,
        """
def test_extra():
    assert_messages([CMD, BookLent(id=ID, to="Bob"), EVENT], [CMD, EVENT])

def test_missing():
    assert_messages([CMD], [CMD, BookRegistered])
""",
    )
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "E       AssertionError: recorded messages differ from the expected ones: "
            "expected 2 messages, recorded 3",
            "E       The following messages were recorded but not expected:",
            "E         [[]1[]] BookLent(id=UUID('*'), to='Bob')",
            "E       Recorded messages:",
            "E         [[]0[]] RegisterBook(*)",
            "E         [[]1[]] BookLent(*)  <- extra",
            "E         [[]2[]] BookRegistered(*)",
            "*",
            "E       AssertionError: recorded messages differ from the expected ones: "
            "expected 2 messages, recorded 1",
            "E       The following messages were expected but not recorded:",
            "E         [[]1[]] any BookRegistered",
        ]
    )


def test_long_lists_are_abbreviated_around_the_difference(project: pytest.Pytester) -> None:
    body = """
def messages(last):
    items = [LendBook(id=UUID(int=i), to="Alice") for i in range(999)]
    return [*items, LendBook(id=UUID(int=999), to=last)]

def test_long():
    assert_messages(messages("Bob"), messages("Alice"))
"""
    result = run(project, body)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E       AssertionError: recorded messages differ from the expected ones at index 999",
            "E       At index 999 (LendBook), 1 field differs:",
            "E         to: expected 'Alice', recorded 'Bob'",
            "E       Recorded messages:",
            "E         ... 998 equal messages ...",
            "E         [[]998[]] LendBook(*)",
            "E         [[]999[]] LendBook(*to='Bob')  <- differs",
        ]
    )


def test_more_detail_with_verbose(project: pytest.Pytester) -> None:
    body = """
def test_many():
    recorded = [LendBook(id=UUID(int=i), to="Bob") for i in range(5)]
    assert_messages(recorded, [LendBook(id=UUID(int=i), to="Alice") for i in range(5)])
"""
    quiet = run(project, body)
    quiet.stdout.fnmatch_lines(
        [
            "E       AssertionError: recorded messages differ from the expected ones at "
            "5 of 5 positions, first at index 0",
            "E       At index 2 (LendBook), 1 field differs:",
            "E         to: expected 'Alice', recorded 'Bob'",
            "E       ... and 2 more differing positions (use -vv to see all)",
        ]
    )
    quiet.stdout.no_fnmatch_line("E       At index 3 *")
    verbose = project.runpytest("-p", "no:randomly", "-v")
    verbose.stdout.fnmatch_lines(["E       At index 4 (LendBook), 1 field differs:"])
    verbose.stdout.no_fnmatch_line("*more differing positions*")


def test_class_and_partial_expectations(project: pytest.Pytester) -> None:
    result = run(
        project,
        """
def test_class():
    assert_messages([CMD, EVENT], [CMD, BookLent])

def test_like():
    assert_messages([CMD, EVENT], [CMD, like(BookRegistered, title="Other", author="Evans")])
""",
    )
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "E       At index 1 (BookRegistered), the class differs:",
            "E         class: expected BookLent (or a subclass), recorded BookRegistered",
            "*",
            "E       At index 1 (BookRegistered), 1 field differs:",
            "E         title: expected 'Other', recorded 'DDD'",
        ]
    )


def test_transport_failures(project: pytest.Pytester) -> None:
    result = run(
        project,
        """
async def test_payload(bus, uow, transport):
    async with uow as transaction:
        await bus.handle(CMD, transaction)
        await transaction.commit()
    assert_messages(transport, [CMD.model_copy(update={"title": "Other"})])

async def test_not_published(bus, uow, transport):
    assert_messages(transport, [EVENT])
""",
    )
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "E       AssertionError: recorded events differ from the expected ones at index 0",
            "E       At index 0 (register_book_v1), 1 field differs:",
            "E         title: expected 'Other', recorded 'DDD'",
            "E       Recorded events:",
            "E         [[]0[]] register_book_v1(id='00000000-0000-0000-0000-000000000001', "
            "isbn='1', title='DDD', author='Evans')  <- differs",
            "*",
            "E       AssertionError: BookRegistered is not published (metadata.published is "
            "False), so it never reaches a transport; expect it in the message store "
            "instead, e.g. assert_messages(eventstore, [[]...[]])",
        ]
    )


def test_a_project_store_is_read_from_the_recorder(project: pytest.Pytester) -> None:
    result = run(
        project,
        """
from messagebus import AsyncAbstractUnitOfWork
from pytest_messagebus_eventstore._compat import AsyncAbstractMessageStoreRepository

class SqlStore(AsyncAbstractMessageStoreRepository):
    async def _add(self, message):
        pass

class SqlUnitOfWork(AsyncAbstractUnitOfWork):
    def __init__(self, store, books):
        # messagebus 0.12 calls the store eventstore, later versions messagestore.
        self.eventstore = self.messagestore = store
        self.books = books

    async def commit(self):
        pass

    async def rollback(self):
        pass

async def test_sql(bus, messagebus_repositories):
    uow = SqlUnitOfWork(SqlStore(), messagebus_repositories["books"])
    async with uow as transaction:
        await bus.handle(CMD, transaction)
        await transaction.commit()
    assert_messages(uow, [CMD, EVENT])
""",
    )
    result.assert_outcomes(passed=1)
