"""Every message a store receives is recorded per test, with its outcome."""

from __future__ import annotations

import pytest


def test_records_committed_and_rolled_back_messages(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        from uuid import UUID

        import pytest
        from library.domain import LendBook, RegisterBook
        from pytest_messagebus_eventstore._recorder import active_recorder

        ID = UUID(int=1)

        async def test_flow(bus, uow, eventstore):
            async with uow as transaction:
                await bus.handle(
                    RegisterBook(id=ID, isbn="1", title="T", author="A"), transaction
                )
                await transaction.commit()
            with pytest.raises(ValueError):
                async with uow as transaction:
                    await bus.handle(LendBook(id=ID, to="nobody"), transaction)
            records = active_recorder().records
            assert [(type(r.message).__name__, r.status) for r in records] == [
                ("RegisterBook", "committed"),
                ("BookRegistered", "committed"),
            ]
            assert [type(e).__name__ for e in active_recorder().handler_errors] == [
                "ValueError"
            ]
            assert active_recorder().messages_of(eventstore) == eventstore.messages

        def test_fresh_recorder(uow):
            assert active_recorder().records == []
        """
    )
    project.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


def test_rolled_back_messages_are_marked(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        from uuid import UUID

        from library.domain import RegisterBook
        from pytest_messagebus_eventstore._recorder import active_recorder

        async def test_rollback(bus, uow, eventstore):
            async with uow as transaction:
                await bus.handle(
                    RegisterBook(id=UUID(int=1), isbn="1", title="T", author="A"),
                    transaction,
                )
                await transaction.rollback()
            assert eventstore.messages == []
            recorder = active_recorder()
            assert [r.status for r in recorder.records] == ["rolled back", "rolled back"]
            assert recorder.messages_of(eventstore) == []
            assert len(recorder.messages_of(eventstore, include_rolled_back=True)) == 2
        """
    )
    project.runpytest().assert_outcomes(passed=1)


def test_recording_leaves_no_trace(project: pytest.Pytester) -> None:
    project.makeconftest(
        (project.path / "conftest.py").read_text()
        + """
from pytest_messagebus_eventstore._compat import AsyncAbstractMessageStoreRepository

def pytest_runtest_logfinish(nodeid):
    add = AsyncAbstractMessageStoreRepository.__dict__["add"]
    print("add after", nodeid, "is", add.__module__)
"""
    )
    project.makepyfile(
        """
        from pytest_messagebus_eventstore._compat import AsyncAbstractMessageStoreRepository

        def test_one(uow):
            add = AsyncAbstractMessageStoreRepository.__dict__["add"]
            assert add.__module__ == "pytest_messagebus_eventstore._recorder"
        """
    )
    result = project.runpytest_subprocess("-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["*add after test_recording_leaves_no_trace.py::test_one is messagebus.*"]
    )
