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

def owner_of_add():
    return AsyncAbstractMessageStoreRepository.__dict__["add"].__module__

def pytest_runtest_logfinish(nodeid):
    print("add between tests is", owner_of_add())

@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    print("add after the session is", owner_of_add())
"""
    )
    project.makepyfile(
        """
        from conftest import owner_of_add

        def test_one(uow):
            assert owner_of_add() == "pytest_messagebus_eventstore._recorder"

        def test_two():
            assert owner_of_add() == "pytest_messagebus_eventstore._recorder"
        """
    )
    result = project.runpytest_subprocess("-s", "-p", "no:randomly")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*add between tests is pytest_messagebus_eventstore._recorder",
            "add after the session is messagebus.*",
        ]
    )


def test_an_interrupted_inner_session_gives_the_outer_test_its_recorder_back(
    project: pytest.Pytester,
) -> None:
    from pytest_messagebus_eventstore import _recorder, _state

    outer_test, outer_recorder = _state.running[-1], _recorder.active_recorder()
    project.makepyfile(
        """
        from pytest_messagebus_eventstore import _recorder

        def test_interrupted(uow):
            assert _recorder.active_recorder() is not None
            raise KeyboardInterrupt
        """
    )
    result = project.runpytest_inprocess("-p", "no:randomly", no_reraise_ctrlc=True)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    # The inner test never reported its teardown: its session's end drops it.
    assert _state.running[-1] is outer_test
    assert _recorder.active_recorder() is outer_recorder
