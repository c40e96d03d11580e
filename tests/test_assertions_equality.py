"""``==`` between messages, or lists of them, explained field by field."""

from __future__ import annotations

import pytest

# Shared with the in-process runs below (see test_assertions.py).
import pytest_messagebus_eventstore.assertions  # noqa: F401

HEADER = """
from uuid import UUID

from library.domain import BookRegistered, RegisterBook

ID = UUID(int=1)
CMD = RegisterBook(id=ID, isbn="1", title="DDD", author="Evans")
EVENT = BookRegistered(id=ID, isbn="1", title="DDD", author="Evans")
"""


def test_lists_of_messages(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_eq=HEADER
        + """
async def test_store(bus, uow, eventstore):
    async with uow as transaction:
        await bus.handle(CMD, transaction)
        await transaction.commit()
    assert eventstore.messages == [CMD, EVENT.model_copy(update={"title": "Other"})]
"""
    )
    result = project.runpytest("-vv")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E       AssertionError: assert [[]RegisterBook(...), BookRegistered(...)[]] == "
            "[[]RegisterBook(...), BookRegistered(...)[]]",
            "E         left messages differ from the right ones at index 1",
            "E         At index 1 (BookRegistered), 1 field differs:",
            "E           title: 'DDD' != 'Other'",
            "E         Left messages:",
            "E           [[]0[]] RegisterBook(*)",
            "E           [[]1[]] BookRegistered(*)  <- differs",
        ]
    )


def test_two_messages_and_other_values(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_eq=HEADER
        + """
def test_one():
    assert CMD.model_copy(update={"author": "Fowler", "isbn": "2"}) == CMD

def test_plain_lists():
    assert [1, 2] == [1, 3]
"""
    )
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "E       AssertionError: assert RegisterBook(...) == RegisterBook(...)",
            "E         RegisterBook, 2 fields differ:",
            "E           isbn: '2' != '1'",
            "E           author: 'Fowler' != 'Evans'",
            "*",
            "E       assert [[]1, 2[]] == [[]1, 3[]]",
            "E         At index 1 diff: 2 != 3",
        ]
    )


def test_a_run_without_messages_never_imports_messagebus(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
import sys

def pytest_unconfigure():
    print("messagebus imported:", "messagebus" in sys.modules)
"""
    )
    pytester.makepyfile("def test_compare():\n    assert [1] == [2]\n")
    result = pytester.runpytest_subprocess("-s")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["messagebus imported: False"])
