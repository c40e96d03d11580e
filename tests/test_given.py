"""The given phase: ``@pytest.mark.messagebus_given`` and its callable twins."""

from __future__ import annotations

import re
import textwrap

import pytest

from conftest import PYTEST_ASYNCIO

# The function-scoped fixture through which pytest-asyncio runs a test in its
# event loop: 1.0 removed event_loop for a private fixture per loop scope, which
# 1.1 made an asyncio.Runner.
if PYTEST_ASYNCIO < (1, 0):
    LOOP_FIXTURE = "event_loop"
elif PYTEST_ASYNCIO < (1, 1):
    LOOP_FIXTURE = "_function_event_loop"
else:
    LOOP_FIXTURE = "_function_scoped_runner"

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
            # The handler's frame, not the plugin's nor messagebus's.
            '  File "*/library/handlers.py", line 25, in lend_book',
            '    raise ValueError("cannot lend a book to nobody")',
            "The arrangement was rolled back and the test did not run.",
            "*- messagebus eventstore -*",
        ],
        consecutive=True,
    )
    result.stdout.no_fnmatch_line("*During handling of the above exception*")
    result.stdout.no_fnmatch_line("*the test body ran*")
    result.stdout.no_fnmatch_line("*Traceback*")


def test_failure_deep_in_a_handler_shows_its_frame_and_the_last_ones(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        COMMANDS
        + """
@given(lend(7))
async def test_unknown_book(uow):
    pass
"""
    )
    result = project.runpytest("-p", "no:randomly", "--tb=long")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "messagebus_given marker: <LendBook id=UUID(*7')*> raised KeyError: UUID(*7')",
            '  File "*/library/handlers.py", line 19, in lend_book',
            "    book = await uow.books.by_id(cmd.id)",
            '  File "*/conftest.py", line *, in by_id',
            "    return self.books[id]",
            "The arrangement was rolled back and the test did not run.",
        ],
        consecutive=True,
    )
    result.stdout.no_fnmatch_line("*pytest_messagebus_eventstore*")
    result.stdout.no_fnmatch_line("*During handling of the above exception*")


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
            "on the async bus, so it would only be stored; list the module of its handler in "
            "the messagebus_scan ini option.",
            "*ERROR at setup of test_sync_unhandled*",
            "messagebus_given marker: no handler for <RegisterBook *> (RegisterBook) on the sync"
            " bus, so it would only be stored; list the module of its handler in the "
            "messagebus_sync_scan ini option.",
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
            "messagebus_given marker expects messagebus commands or events, got the class "
            "RegisterBook; pass an instance: RegisterBook(...).",
            "*ERROR at setup of test_keyword*",
            "messagebus_given takes commands only, got keyword arguments ['commit'].",
        ]
    )


LISTENER = """

@async_listen
async def note_lending(event: BookLent, uow) -> None:
    book = await uow.books.by_id(event.id)
    book.tags.append(f"noted for {event.to}")
    uow.books.seen.append(book)
"""


def test_events_with_listeners_are_arranged(project: pytest.Pytester) -> None:
    with project.path.joinpath("library", "handlers.py").open("a") as handlers:
        handlers.write(LISTENER)
    project.makepyfile(
        COMMANDS
        + """
def lent(n, to="Bob"):
    return BookLent(id=UUID(int=n), to=to)


@given(register(1), lent(1))
async def test_marker(uow, eventstore):
    assert uow.books.books[UUID(int=1)].tags == ["noted for Bob"]
    assert eventstore.messages == []


async def test_callable(messagebus_given, uow, eventstore):
    await messagebus_given(register(1), lent(1, to="Carol"))
    assert uow.books.books[UUID(int=1)].tags == ["noted for Carol"]
    assert eventstore.messages == []
"""
    )
    project.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


def test_what_the_bus_would_not_handle_is_refused(project: pytest.Pytester) -> None:
    project.makepyfile(
        COMMANDS
        + """
from library.domain import BookRegistered


def registered(n):
    return BookRegistered(id=UUID(int=n), isbn=str(n), title=f"Book {n}", author="A")


@given(register(1), registered(1))
async def test_event_without_listener(uow):
    pass


@given(register(1), 3)
async def test_not_a_message(uow):
    pass


async def test_callable_event_without_listener(messagebus_given):
    messagebus_given(registered(2))


async def test_callable_not_a_message(messagebus_given):
    messagebus_given("register")
"""
    )
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(errors=2, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_event_without_listener*",
            "messagebus_given marker: no listener for the event <BookRegistered id=UUID(*1')*>"
            " (BookRegistered) on the async bus, so it would only be stored; list the module"
            " of a listener in the messagebus_scan ini option.",
            "*ERROR at setup of test_not_a_message*",
            "messagebus_given marker expects messagebus commands or events, got int 3.",
            "*_ test_callable_event_without_listener _*",
            "messagebus_given(): no listener for the event <BookRegistered id=UUID(*2')*>"
            " (BookRegistered) on the async bus, so it would only be stored; list the module"
            " of a listener in the messagebus_scan ini option.",
            "*_ test_callable_not_a_message _*",
            "E       TypeError: messagebus_given() expects messagebus commands or events, "
            "got str 'register'.",
        ]
    )


def test_lone_class_or_function_given_to_the_marker_is_explained(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        test_lone_class=COMMANDS
        + """

@given(RegisterBook)
def test_class(uow):
    pass
""",
        test_lone_function=COMMANDS
        + """

class TestShelf:
    @given(register)
    def test_function(self, uow):
        pass
""",
        # Not blamed on the class marked by the first module.
        test_other_error=COMMANDS
        + """

@given(RegisterBook(id=1))
def test_invalid(uow):
    pass
""",
    )
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR collecting test_lone_class.py _*",
            "test_lone_class.py:17: messagebus_given got the class RegisterBook as its only "
            "argument, which pytest takes for the object to mark: it marked RegisterBook, then "
            "called it with the test function (TypeError: *).",
            "Pass an instance: messagebus_given(RegisterBook(...)).",
            "*_ ERROR collecting test_lone_function.py _*",
            "test_lone_function.py:18: messagebus_given got the function register as its only "
            "argument, which pytest takes for the object to mark: it marked register, then "
            "called it with the test function (TypeError: *).",
            "Pass what it returns: messagebus_given(register(...)).",
            "*_ ERROR collecting test_other_error.py _*",
            "*ValidationError*",
        ]
    )
    result.stdout.no_fnmatch_line("E   TypeError: *")
    result.stdout.no_fnmatch_line("*test_other_error.py:*: messagebus_given got*")


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
    loops = re.findall(rf"SETUP    F {LOOP_FIXTURE}\b", output)
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
    # At the call, awaited or not.
    with pytest.raises(TypeError, match="expects messagebus commands or events, got the class"):
        messagebus_given(LendBook)


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
            '  File "*/library/handlers.py", line 19, in lend_book',
            "    book = await uow.books.by_id(cmd.id)",
            '  File "*/conftest.py", line *, in by_id',
            "    return self.books[id]",
            "The arrangement was rolled back; the test stopped at "
            "test_callable_arranges_parametrized_histories.py:34.",
        ],
        consecutive=True,
    )
    result.stdout.no_fnmatch_line("*During handling of the above exception*")


def test_sync_callable_failure_says_where_the_test_stopped(project: pytest.Pytester) -> None:
    project.makepyfile(
        COMMANDS
        + """
def test_sync_failure(messagebus_sync_given, sync_uow):
    messagebus_sync_given(register(1), register(1))
"""
    )
    project.path.joinpath("library", "sync_handlers.py").write_text(
        textwrap.dedent(
            """\
            from messagebus import sync_listen

            from library.domain import RegisterBook


            @sync_listen
            def register_book(cmd: RegisterBook, uow) -> None:
                raise LookupError(cmd.isbn)
            """
        )
    )
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "messagebus_sync_given(): <RegisterBook *> raised LookupError: 1",
            '  File "*/library/sync_handlers.py", line 8, in register_book',
            "    raise LookupError(cmd.isbn)",
            "The arrangement was rolled back; the test stopped at "
            "test_sync_callable_failure_says_where_the_test_stopped.py:17.",
        ],
        consecutive=True,
    )


def test_marker_is_documented(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(
        ["@pytest.mark.messagebus_given(*commands): before the test, handle the commands *"]
    )


def test_callables_are_documented_with_the_plugins_fixtures(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--fixtures")
    result.stdout.fnmatch_lines(
        [
            "*- fixtures defined from pytest_messagebus_eventstore.plugin -*",
            "messagebus_given -- *",
            "*await messagebus_given(*commands)*",
            "messagebus_sync_given -- *",
            "*sync twin of ``messagebus_given``*",
            "transport -- *",
        ]
    )
    result.stdout.no_fnmatch_line("*fixtures defined from pytest_messagebus_eventstore._given*")
