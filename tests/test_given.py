"""The given phase: ``@pytest.mark.messagebus_given`` and its callable twins."""

from __future__ import annotations

import re

import pytest

COMMANDS = """
from uuid import UUID

import pytest
from library.domain import BookLent, LendBook, RegisterBook

given = pytest.mark.messagebus_given


def register(n):
    return RegisterBook(id=UUID(int=n), isbn=str(n), title=f"Book {n}", author="A")


def lend(n, to="Alice"):
    return LendBook(id=UUID(int=n), to=to)
"""

ACT_ONLY = (
    COMMANDS
    + """
from pytest_messagebus_eventstore._recorder import active_recorder


@given(register(1))
async def test_lend(bus, uow, eventstore, transport):
    assert eventstore.messages == []
    assert transport.events == []
    assert list(uow.books.books) == [UUID(int=1)]
    async with uow as transaction:
        await bus.handle(lend(1), transaction)
        await transaction.commit()
    assert eventstore.messages == [lend(1), BookLent(id=UUID(int=1), to="Alice")]
    assert [event["type"] for event in transport.events] == ["book_lent_v1"]
    assert [type(r.message).__name__ for r in active_recorder().records] == [
        "LendBook",
        "BookLent",
    ]
    assert uow.books.books[UUID(int=1)].lent_to == "Alice"


@given(register(1))
def test_sync_test_function_gets_the_async_phase(uow, eventstore):
    assert list(uow.books.books) == [UUID(int=1)]
    assert eventstore.messages == []


async def test_next_test_starts_empty(uow, eventstore):
    assert uow.books.books == {}
    assert eventstore.messages == []
"""
)


@pytest.mark.parametrize("mode", ["auto", "strict"])
def test_marker_arranges_state_and_leaves_only_the_act(project: pytest.Pytester, mode: str) -> None:
    source = ACT_ONLY
    if mode == "strict":
        source = source.replace("async def test_", "@pytest.mark.asyncio\nasync def test_")
    project.makepyfile(test_act=source)
    result = project.runpytest("-o", f"asyncio_mode={mode}", "-p", "no:randomly")
    result.assert_outcomes(passed=3)


def test_markers_accumulate_from_module_to_function_top_to_bottom(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        COMMANDS
        + """
pytestmark = [given(register(1)), given(register(2))]


@given(register(3))
class TestShelf:
    @given(register(4))
    @given(lend(4), lend(3))
    def test_order(self, uow, eventstore):
        # Lending needs the book registered first: any other order fails.
        assert list(uow.books.books) == [UUID(int=n) for n in (1, 2, 3, 4)]
        assert uow.books.books[UUID(int=3)].lent_to == "Alice"
        assert eventstore.messages == []
"""
    )
    project.runpytest().assert_outcomes(passed=1)


def test_test_using_only_sync_fixtures_gets_the_sync_phase(project: pytest.Pytester) -> None:
    project.makepyfile(
        COMMANDS
        + """
@given(register(1), register(2))
def test_sync(sync_uow, sync_eventstore, sync_transport):
    assert list(sync_uow.books.books) == [UUID(int=1), UUID(int=2)]
    assert sync_eventstore.messages == []
    assert sync_transport.events == []


@given(register(1))
def test_sync_callable_twin_is_not_async(messagebus_sync_given, sync_uow):
    assert list(sync_uow.books.books) == [UUID(int=1)]
    messagebus_sync_given(register(2))
    assert list(sync_uow.books.books) == [UUID(int=1), UUID(int=2)]
"""
    )
    result = project.runpytest("-o", "asyncio_mode=strict")
    result.assert_outcomes(passed=2)


def test_command_that_raises_errors_at_setup_and_rolls_back(project: pytest.Pytester) -> None:
    project.makepyfile(
        COMMANDS
        + """
@given(register(1), lend(1, to="nobody"))
def test_never_runs(uow):
    raise AssertionError("the test body ran")


def test_after(uow, eventstore, transport):
    assert uow.books.books == {}
    assert eventstore.messages == []
"""
    )
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_never_runs*",
            "messagebus_given marker: <LendBook id=UUID('00000000-0000-0000-0000-000000000001')"
            " to='nobody'> raised ValueError: cannot lend a book to nobody",
            "The arrangement was rolled back and the test did not run.",
        ]
    )
    result.stdout.no_fnmatch_line("*the test body ran*")
    result.stdout.no_fnmatch_line("*Traceback*")


def test_command_without_handler_errors_at_setup(project: pytest.Pytester) -> None:
    project.makepyfile(
        COMMANDS
        + """
from messagebus import Command, Metadata


class ReturnBook(Command):
    id: UUID
    metadata: Metadata = Metadata(name="return_book", schema_version=1)


@given(register(1), ReturnBook(id=UUID(int=1)))
async def test_unhandled(uow):
    pass


@given(register(1))
def test_sync_unhandled(sync_uow):
    pass
"""
    )
    result = project.runpytest("-p", "no:randomly", "-o", "messagebus_sync_scan=")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_unhandled*",
            "messagebus_given marker: no handler for <ReturnBook id=UUID(*1')> (ReturnBook) "
            "on the async bus; list the module of its handler in the messagebus_scan ini option.",
            "*ERROR at setup of test_sync_unhandled*",
            "messagebus_given marker: no handler for <RegisterBook *> (RegisterBook) on the sync"
            " bus; list the module of its handler in the messagebus_sync_scan ini option.",
        ]
    )


def test_bad_marker_arguments_error_at_setup(project: pytest.Pytester) -> None:
    project.makepyfile(
        COMMANDS
        + """
@given(register(1), RegisterBook)
def test_class_given(uow):
    pass


@given(register(1), commit=False)
def test_keyword(uow):
    pass
"""
    )
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_class_given*",
            "messagebus_given marker expects messagebus commands, got the class RegisterBook "
            "(pass an instance).",
            "*ERROR at setup of test_keyword*",
            "messagebus_given takes commands only, got keyword arguments ['commit'].",
        ]
    )


def test_only_marked_tests_get_the_phase(project: pytest.Pytester) -> None:
    project.makepyfile(
        COMMANDS
        + """
@pytest.mark.parametrize(
    "arranged",
    [pytest.param(True, marks=given(register(1))), False],
)
def test_per_parameter_marker(uow, arranged):
    assert bool(uow.books.books) is arranged


def test_plain():
    pass
"""
    )
    result = project.runpytest("--setup-show", "-p", "no:randomly", "-o", "asyncio_mode=strict")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "*SETUP    F arranged?True?",
            "*SETUP    F _messagebus_given_phase (fixtures used: bus, *uow)",
            "*::test_per_parameter_marker?True? (fixtures used: _messagebus_given_phase, *",
            "*SETUP    F arranged?False?",
            "*::test_per_parameter_marker?False? (fixtures used: arranged, *",
            "*::test_plain *",
        ]
    )
    result.stdout.no_fnmatch_line("*::test_plain (fixtures used: *bus*")
    output = result.stdout.str()
    assert output.count("SETUP    F _messagebus_given_phase") == 1
    # No event loop either for the tests without the marker.
    loops = re.findall(r"SETUP    F (?:_function_scoped_runner|event_loop)\b", output)
    assert len(loops) == 1


def test_callable_arranges_parametrized_histories(project: pytest.Pytester) -> None:
    project.makepyfile(
        COMMANDS
        + """
@pytest.mark.parametrize(
    ("history", "lent_to"),
    [([register(1)], None), ([register(1), lend(1)], "Alice")],
)
async def test_history(messagebus_given, history, lent_to, uow, eventstore, transport):
    await messagebus_given(*history)
    assert uow.books.books[UUID(int=1)].lent_to == lent_to
    assert eventstore.messages == []
    assert transport.events == []


async def test_callable_refuses_a_class(messagebus_given):
    with pytest.raises(TypeError, match="expects messagebus commands, got the class LendBook"):
        await messagebus_given(LendBook)


async def test_callable_failure(messagebus_given):
    await messagebus_given(lend(9))
"""
    )
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_callable_failure _*",
            "messagebus_given(): <LendBook id=UUID(*9')*> raised KeyError: UUID(*9')",
        ]
    )


def test_marker_is_documented(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(
        ["@pytest.mark.messagebus_given(*commands): before the test, handle the commands *"]
    )


def test_callables_are_documented(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--fixtures")
    result.stdout.fnmatch_lines_random(
        [
            "messagebus_given -- *",
            "*await messagebus_given(*commands)*",
            "messagebus_sync_given -- *",
        ]
    )
