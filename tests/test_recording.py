"""recorded_messages(): what any store received, outside and inside a running test."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pytest_messagebus_eventstore.recording import recorded_messages


def test_refuses_what_has_no_message_store() -> None:
    with pytest.raises(
        TypeError,
        match=r"^recorded_messages\(\) expects a message store, a unit of work or a "
        r"transaction, got int$",
    ):
        recorded_messages(42)


def test_outside_a_test_run_says_where_it_works() -> None:
    code = (
        "from pytest_messagebus_eventstore import InMemoryUnitOfWork, recorded_messages\n"
        "try:\n"
        "    recorded_messages(InMemoryUnitOfWork())\n"
        "except TypeError as exc:\n"
        "    print(exc)\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.strip() == (
        "recorded_messages() reads what the plugin recorded during the running test; "
        "call it from a test run by pytest with the plugin enabled"
    )


def test_reads_the_transaction_and_keeps_rolled_back_ones_on_request(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        """
        from uuid import UUID

        import pytest
        from library.domain import RegisterBook
        from pytest_messagebus_eventstore import recorded_messages

        CMD = RegisterBook(id=UUID(int=1), isbn="1", title="T", author="A")

        async def test_flow(bus, uow):
            async with uow as transaction:
                await bus.handle(CMD, transaction)
                assert [type(m).__name__ for m in recorded_messages(transaction)] == [
                    "RegisterBook", "BookRegistered"
                ]
                await transaction.rollback()
            assert recorded_messages(uow) == []
            assert len(recorded_messages(uow.eventstore, include_rolled_back=True)) == 2
        """
    )
    project.runpytest().assert_outcomes(passed=1)
