"""Edge cases of recording and of stores reassigned on a class."""

from __future__ import annotations

import pytest

STORES = """
from typing import ClassVar

import pytest
from library.domain import RegisterBook
from pytest_messagebus_eventstore import (
    InMemoryEventstoreRepository,
    InMemoryRepository,
    InMemoryUnitOfWork,
    SyncInMemoryEventstoreRepository,
    SyncInMemoryUnitOfWork,
    recorded_messages,
)

CMD = RegisterBook(id="00000000-0000-0000-0000-000000000001", isbn="1", title="T", author="A")


class CallingParent(InMemoryEventstoreRepository):
    async def add(self, message):
        await super().add(message)


class Failing(InMemoryEventstoreRepository):
    async def _add(self, message):
        raise RuntimeError("disk full")


class SyncCallingParent(SyncInMemoryEventstoreRepository):
    def add(self, message):
        super().add(message)


class SyncFailing(SyncInMemoryEventstoreRepository):
    def _add(self, message):
        raise RuntimeError("disk full")


async def test_an_add_calling_its_parents_is_recorded_once():
    uow = InMemoryUnitOfWork(eventstore=CallingParent())
    async with uow as transaction:
        await transaction.eventstore.add(CMD)
        await transaction.commit()
    assert recorded_messages(uow) == [CMD]


async def test_an_add_that_raises_records_nothing():
    uow = InMemoryUnitOfWork(eventstore=Failing())
    with pytest.raises(RuntimeError, match="disk full"):
        async with uow as transaction:
            await transaction.eventstore.add(CMD)
    assert recorded_messages(uow, include_rolled_back=True) == []


def test_sync_add_calling_its_parents_and_raising():
    uow = SyncInMemoryUnitOfWork(eventstore=SyncCallingParent())
    with uow as transaction:
        transaction.eventstore.add(CMD)
        transaction.commit()
    assert recorded_messages(uow) == [CMD]
    failing = SyncInMemoryUnitOfWork(eventstore=SyncFailing())
    with pytest.raises(RuntimeError, match="disk full"), failing as transaction:
        transaction.eventstore.add(CMD)
    assert recorded_messages(failing, include_rolled_back=True) == []


def test_sync_detached_transaction_closed_without_commit_is_rolled_back():
    uow = SyncInMemoryUnitOfWork()
    with uow as transaction:
        transaction.eventstore.add(CMD)
        transaction.detach()
    transaction.close()
    assert recorded_messages(uow, include_rolled_back=True) == [CMD]
    assert recorded_messages(uow) == []
    assert list(uow.eventstore.messages) == []


class Shelf(InMemoryRepository):
    rows: ClassVar[dict] = {"declared": 1}


class SubShelf(Shelf):
    pass


# Outside a test, a reassignment declares the class's contents anew.
Shelf.rows = {"module": 1}


def test_1_reassigned_outside_a_test_is_the_declaration():
    assert dict(Shelf.rows) == {"module": 1}
    SubShelf.rows = {"sub": 1}
    Shelf.rows = None
    assert dict(SubShelf.rows) == {"sub": 1}


def test_2_the_next_test_has_them_back():
    assert dict(Shelf.rows) == {"module": 1}
    assert SubShelf.rows is Shelf.rows
"""


def test_recording_edges_and_reassigned_stores(project: pytest.Pytester) -> None:
    project.makepyfile(test_edge_cases=STORES)
    result = project.runpytest("-p", "no:randomly", "-v")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(
        [
            "*test_an_add_calling_its_parents_is_recorded_once PASSED*",
            "*test_2_the_next_test_has_them_back PASSED*",
        ]
    )
