"""assert_messages on a transport with classes and like(): what a mismatch says."""

from __future__ import annotations

import pytest

TESTS = """
from uuid import UUID

from library.domain import BookLent, BookRegistered, LendBook, RegisterBook
from pytest_messagebus_eventstore import assert_messages, like

ID = UUID(int=1)


async def stream(bus, uow):
    async with uow as transaction:
        await bus.handle(RegisterBook(id=ID, isbn="1", title="DDD", author="Evans"), transaction)
        await bus.handle(LendBook(id=ID, to="alice"), transaction)
        await transaction.commit()


async def test_like_with_a_wrong_field(bus, uow, transport):
    await stream(bus, uow)
    assert_messages(transport, [RegisterBook, like(BookLent, to="bob")])


async def test_class_of_another_type(bus, uow, transport):
    await stream(bus, uow)
    assert_messages(transport, [RegisterBook, RegisterBook])


async def test_like_and_class_pass_unordered(bus, uow, transport):
    await stream(bus, uow)
    assert_messages(transport, [like(BookLent, to="alice"), RegisterBook], ordered=False)
"""


def test_event_expectations_explain_their_mismatch(project: pytest.Pytester) -> None:
    project.makepyfile(test_events=TESTS)
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "E       AssertionError: recorded events differ from the expected ones at index 1",
            "E       At index 1 (book_lent_v1), 1 field differs:",
            "E         to: expected 'bob', recorded 'alice'",
            "*_ test_class_of_another_type _*",
            "E       At index 1 (book_lent_v1), the type differs:",
            "E         type: expected 'register_book_v1', recorded 'book_lent_v1'",
        ]
    )
