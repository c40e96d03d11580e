"""The given phase: commands handled and committed before the test's act.

``@pytest.mark.messagebus_given(*commands)`` arranges the state a test starts
from by handling earlier commands through the test's own bus and unit of work,
in one committed transaction. What the arrangement recorded (the message
store's messages, the transport's events, the recorder's records) is then
forgotten, so that the test's assertions see only its act; the repositories
keep the arranged state.

Only the tests carrying the marker get the phase's fixture added to their
fixture list, so other tests do not pay for it, not even for an event loop.
The plugin module registers the marker, the hooks and the fixtures.
"""

from __future__ import annotations

import inspect
import linecache
import os
import sys
import traceback
from collections.abc import MutableSequence
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
import pytest_asyncio

from . import _recorder
from ._awaited import where
from ._state import running

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Sequence
    from types import FrameType, TracebackType

MARKER = "messagebus_given"
_PHASE_FIXTURES = {"async": "_messagebus_given_phase", "sync": "_messagebus_sync_given_phase"}
_ASYNC_NAMES = frozenset(
    {"bus", "uow", "eventstore", "transport", "messagebus_repositories", "messagebus_given"}
)
_SYNC_NAMES = frozenset(
    {
        "sync_bus",
        "sync_uow",
        "sync_eventstore",
        "sync_transport",
        "messagebus_sync_repositories",
        "messagebus_sync_given",
    }
)
_SCAN_INI = {"async": "messagebus_scan", "sync": "messagebus_sync_scan"}


_F = TypeVar("_F", bound="Callable[..., Any]")
# The handler frames a failure shows: the handler's, and the last ones below it.
_SHOWN_FRAMES = 3
_PACKAGE_DIR = os.path.dirname(__file__) + os.sep


def listed_with_the_plugin(function: _F) -> _F:
    """``pytest --fixtures`` groups fixtures by their function's module: the plugin's."""
    function.__module__ = f"{__package__}.plugin"
    return function


MARKER_HELP = (
    f"{MARKER}(*commands): before the test, handle the commands with `bus` in one "
    "committed transaction of `uow` (`sync_bus`/`sync_uow` for a test using only "
    "sync fixtures), then forget the messages and events they produced. Markers "
    "on the module, class and function add up, in that order."
)


def add_phase_fixtures(marked: list[pytest.Function]) -> None:
    """Give each test marked with ``messagebus_given`` the fixture of its phase."""
    for item in marked:
        names = set(item.fixturenames)
        flavour = "sync" if names & _SYNC_NAMES and not names & _ASYNC_NAMES else "async"
        # A new list: parametrized siblings share the old one and may be unmarked.
        item.fixturenames = [*item.fixturenames, _PHASE_FIXTURES[flavour]]


@pytest.hookimpl(tryfirst=True)
def pytest_exception_interact(
    node: pytest.Item | pytest.Collector,
    call: pytest.CallInfo[Any],
    report: pytest.CollectReport | pytest.TestReport,
) -> None:
    """Explain a module that fails to import because of a lone class given to the marker."""
    if isinstance(node, pytest.Module) and call.excinfo is not None:
        explanation = _lone_argument(node, call.excinfo.tb, call.excinfo.exconly())
        if explanation is not None:
            report.longrepr = explanation


def _lone_argument(module: pytest.Module, tb: TracebackType | None, error: str) -> str | None:
    """Why ``@messagebus_given(RegisterBook)`` failed, if that is what the module did.

    pytest takes a marker's lone argument for the object to decorate when it
    is a class or a function: it stores the marker on it, without arguments,
    and the decorator then calls it with the test function.
    """
    filename = str(module.path)
    line = 0
    frame: FrameType | None = None
    while tb is not None:
        code = tb.tb_frame.f_code
        # The module's body or a class body, where the decorator is: not the
        # frame of a function it called.
        if code.co_filename == filename and not code.co_flags & inspect.CO_OPTIMIZED:
            frame, line = tb.tb_frame, tb.tb_lineno
        tb = tb.tb_next
    if frame is None:
        return None
    # Python 3.11 and later give the decorator's line; 3.10 gives the line of
    # the def or class, below its decorators.
    lines = [line]
    while lines[-1] > 1 and linecache.getline(filename, lines[-1] - 1).lstrip().startswith("@"):
        lines.append(lines[-1] - 1)
    for value in list(frame.f_globals.values()):
        if not (isinstance(value, type) or inspect.isfunction(value)):
            continue
        marks = vars(value).get("pytestmark")
        if not isinstance(marks, list):
            continue
        at = next((n for n in lines if value.__name__ in linecache.getline(filename, n)), 0)
        if not at:
            continue
        lone = [mark for mark in marks if isinstance(mark, pytest.Mark) and mark.name == MARKER]
        if not lone or lone[-1].args or lone[-1].kwargs:
            continue
        # Taken off: a later failure of another module must not be blamed on it.
        marks.remove(lone[-1])
        name = value.__name__
        kind, fix = (
            ("class", "Pass an instance")
            if isinstance(value, type)
            else ("function", "Pass what it returns")
        )
        return (
            f"{where(module.config, filename, at)}: {MARKER} got the {kind} {name} as "
            "its only argument, which pytest takes for the object to mark: it marked "
            f"{name}, then called it with the test function ({error}).\n"
            f"{fix}: {MARKER}({name}(...))."
        )
    return None


def marked_commands(item: pytest.Item) -> list[Any]:
    """The commands of every ``messagebus_given`` marker of ``item``, in order.

    From the module to the function; on a class or a function the markers are
    decorators, which Python applies bottom up, so they are read in reverse to
    run top to bottom as written.
    """
    __tracebackhide__ = True
    commands: list[Any] = []
    for node in item.listchain():
        markers = [marker for marker in node.own_markers if marker.name == MARKER]
        if not isinstance(node, pytest.Module):
            markers.reverse()
        for marker in markers:
            if marker.kwargs:
                pytest.fail(
                    f"{MARKER} takes commands only, got keyword arguments {sorted(marker.kwargs)}.",
                    pytrace=False,
                )
            commands.extend(marker.args)
    return commands


def check_handlers(
    bus: Any, commands: Sequence[Any], origin: str, flavour: str, *, raise_type_error: bool
) -> None:
    """Refuse what the bus would not handle: messagebus would store it silently."""
    __tracebackhide__ = True
    from messagebus import GenericCommand, GenericEvent

    for command in commands:
        kind = type(command)
        # ``get``: the events registry is a defaultdict, which ``[]`` would fill.
        if kind in bus.commands_registry or bus.events_registry.get(kind):
            continue
        option = _SCAN_INI[flavour]
        if isinstance(command, GenericCommand):
            problem = "no handler for"
            fix = "of its handler"
        elif isinstance(command, GenericEvent):
            problem = "no listener for the event"
            fix = "of a listener"
        else:
            text = f"{origin} expects messagebus commands or events, got {_describe(command)}."
            if raise_type_error:
                raise TypeError(text)
            pytest.fail(text, pytrace=False)
        pytest.fail(
            f"{origin}: {problem} {command!r} ({kind.__name__}) on the {flavour} bus, so "
            f"it would only be stored; list the module {fix} in the {option} ini option.",
            pytrace=False,
        )


def _describe(value: Any) -> str:
    if isinstance(value, type):
        return f"the class {value.__name__}; pass an instance: {value.__name__}(...)"
    return f"{type(value).__name__} {value!r}"


def _handler_frames(exc: BaseException) -> list[str]:
    """The frames of ``exc`` outside messagebus and the plugin: the handler's and below."""
    import messagebus

    internal = (os.path.dirname(messagebus.__file__) + os.sep, _PACKAGE_DIR)
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if not frame.filename.startswith(internal)
    ]
    # As a traceback shows them, without the carets of Python 3.11 and later.
    shown = [
        f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}\n'
        f"    {(frame.line or '').strip()}\n"
        for frame in frames
    ]
    if len(shown) > _SHOWN_FRAMES:
        shown[1 : 1 - _SHOWN_FRAMES] = ["  ...\n"]
    return shown


def _fail(origin: str, command: Any, exc: Exception, stopped_at: str | None) -> None:
    """Fail with the command, the frames that raised, and whether the test had started."""
    __tracebackhide__ = True
    what = f"{command!r} raised" if command is not None else "the commit raised"
    outcome = (
        "The arrangement was rolled back and the test did not run."
        if stopped_at is None
        else f"The arrangement was rolled back; the test stopped at {stopped_at}."
    )
    pytest.fail(
        f"{origin}: {what} {type(exc).__name__}: {exc}\n" + "".join(_handler_frames(exc)) + outcome,
        pytrace=False,
    )


def _forget_arrangement(uow: Any) -> None:
    """Empty what the arrangement left in the store, its transport and the recorder."""
    from ._compat import STORE_ATTRIBUTE
    from ._deterministic import restart_numbering

    store = getattr(uow, STORE_ATTRIBUTE, None)
    transport = getattr(getattr(store, "publisher", None), "transport", None)
    for recorded in (getattr(store, "messages", None), getattr(transport, "events", None)):
        if isinstance(recorded, MutableSequence):
            recorded.clear()
    recorder = _recorder.active_recorder()
    if recorder is not None:
        recorder.forget()
    restart_numbering()


async def arrange(
    bus: Any, uow: Any, commands: Sequence[Any], *, origin: str, stopped_at: str | None = None
) -> None:
    """Handle ``commands`` in one committed transaction of ``uow``, then forget them.

    ``stopped_at`` is where the test called for the arrangement, None before the test.
    """
    __tracebackhide__ = True
    current = None
    try:
        async with uow as transaction:
            for current in commands:
                await bus.handle(current, transaction)
            current = None
            await transaction.commit()
    except Exception as exc:
        failure = exc
    else:
        _forget_arrangement(uow)
        return
    # Out of the except block: the failure does not open with the exception it replaces.
    _fail(origin, current, failure, stopped_at)


def sync_arrange(
    bus: Any, uow: Any, commands: Sequence[Any], *, origin: str, stopped_at: str | None = None
) -> None:
    """Sync twin of :func:`arrange`."""
    __tracebackhide__ = True
    current = None
    try:
        with uow as transaction:
            for current in commands:
                bus.handle(current, transaction)
            current = None
            transaction.commit()
    except Exception as exc:
        failure = exc
    else:
        _forget_arrangement(uow)
        return
    _fail(origin, current, failure, stopped_at)


def _site(frame: FrameType) -> str:
    config = running[-1].item.config if running else None
    return where(config, frame.f_code.co_filename, frame.f_lineno)


@pytest_asyncio.fixture
@listed_with_the_plugin
async def _messagebus_given_phase(request: pytest.FixtureRequest, bus: Any, uow: Any) -> None:
    """Runs the commands of the ``messagebus_given`` markers with ``bus`` and ``uow``."""
    __tracebackhide__ = True
    commands = marked_commands(request.node)
    origin = f"{MARKER} marker"
    check_handlers(bus, commands, origin, "async", raise_type_error=False)
    await arrange(bus, uow, commands, origin=origin)


def sync_phase(request: pytest.FixtureRequest, bus: Any, uow: Any) -> None:
    """The sync given phase: the markers' commands, with a sync ``bus`` and ``uow``."""
    __tracebackhide__ = True
    commands = marked_commands(request.node)
    origin = f"{MARKER} marker"
    check_handlers(bus, commands, origin, "sync", raise_type_error=False)
    sync_arrange(bus, uow, commands, origin=origin)


@pytest.fixture
@listed_with_the_plugin
def _messagebus_sync_given_phase(
    request: pytest.FixtureRequest, sync_bus: Any, sync_uow: Any
) -> None:
    """Runs the commands of the ``messagebus_given`` markers with ``sync_bus`` and ``sync_uow``."""
    __tracebackhide__ = True
    sync_phase(request, sync_bus, sync_uow)


@pytest.fixture
@listed_with_the_plugin
def messagebus_given(bus: Any, uow: Any) -> Callable[..., Coroutine[Any, Any, None]]:
    """``await messagebus_given(*commands)``: the given phase, called from the test.

    Handles the commands with ``bus`` in one committed transaction of ``uow``,
    then empties ``eventstore.messages`` and ``transport.events``; the
    repositories keep the state. Handy with parametrized arrangements::

        @pytest.mark.parametrize("history", [[register], [register, lend]])
        async def test_return(messagebus_given, history, bus, uow):
            await messagebus_given(*history)
    """

    origin = f"{MARKER}()"

    def given(*commands: Any) -> Coroutine[Any, Any, None]:
        # Not a coroutine function: the arguments are checked at the call, and
        # the coroutine is recorded with the caller's line for a missing await.
        __tracebackhide__ = True
        check_handlers(bus, commands, origin, "async", raise_type_error=True)
        caller = sys._getframe(1)
        coroutine = arrange(bus, uow, commands, origin=origin, stopped_at=_site(caller))
        if running:
            running[-1].awaitables.append((coroutine, caller.f_code, caller.f_lasti))
        return coroutine

    return given


def sync_given(bus: Any, uow: Any, origin: str) -> Callable[..., None]:
    """The sync ``given(*commands)``, with a sync ``bus`` and ``uow``."""

    def given(*commands: Any) -> None:
        __tracebackhide__ = True
        check_handlers(bus, commands, origin, "sync", raise_type_error=True)
        stopped_at = _site(sys._getframe(1))
        sync_arrange(bus, uow, commands, origin=origin, stopped_at=stopped_at)

    return given


@pytest.fixture
@listed_with_the_plugin
def messagebus_sync_given(sync_bus: Any, sync_uow: Any) -> Callable[..., None]:
    """``messagebus_sync_given(*commands)``: sync twin of ``messagebus_given``."""
    return sync_given(sync_bus, sync_uow, "messagebus_sync_given()")
