"""The given phase: commands handled and committed before the test's act.

``@pytest.mark.messagebus_given(*commands)`` arranges the state a test starts
from by handling earlier commands through the test's own bus and unit of work,
in one committed transaction. What the arrangement recorded (the message
store's messages, the transport's events, the recorder's records) is then
forgotten, so that the test's assertions see only its act; the repositories
keep the arranged state.

Only the tests carrying the marker get the phase's fixture added to their
fixture list, so other tests do not pay for it, not even for an event loop.
The plugin module registers the marker, the hook and the fixtures.
"""

from __future__ import annotations

from collections.abc import MutableSequence
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio

from . import _recorder

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

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


def _check_handlers(
    bus: Any, commands: Sequence[Any], origin: str, flavour: str, *, raise_type_error: bool
) -> None:
    __tracebackhide__ = True
    from messagebus import Message

    for command in commands:
        if type(command) in bus.commands_registry:
            continue
        if not isinstance(command, Message):
            text = f"{origin} expects messagebus commands, got {_describe(command)}."
            if raise_type_error:
                raise TypeError(text)
            pytest.fail(text, pytrace=False)
        pytest.fail(
            f"{origin}: no handler for {command!r} ({type(command).__name__}) on the "
            f"{flavour} bus; list the module of its handler in the "
            f"{_SCAN_INI[flavour]} ini option.",
            pytrace=False,
        )


def _describe(value: Any) -> str:
    if isinstance(value, type):
        return f"the class {value.__name__} (pass an instance)"
    return f"{type(value).__name__} {value!r}"


def _fail(origin: str, command: Any, exc: Exception) -> None:
    __tracebackhide__ = True
    what = f"{command!r} raised" if command is not None else "the commit raised"
    pytest.fail(
        f"{origin}: {what} {type(exc).__name__}: {exc}\n"
        "The arrangement was rolled back and the test did not run.",
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
    bus: Any, uow: Any, commands: Sequence[Any], *, origin: str, raise_type_error: bool = False
) -> None:
    """Handle ``commands`` in one committed transaction of ``uow``, then forget them."""
    __tracebackhide__ = True
    _check_handlers(bus, commands, origin, "async", raise_type_error=raise_type_error)
    current = None
    try:
        async with uow as transaction:
            for current in commands:
                await bus.handle(current, transaction)
            current = None
            await transaction.commit()
    except Exception as exc:
        _fail(origin, current, exc)
    _forget_arrangement(uow)


def sync_arrange(
    bus: Any, uow: Any, commands: Sequence[Any], *, origin: str, raise_type_error: bool = False
) -> None:
    """Sync twin of :func:`arrange`."""
    __tracebackhide__ = True
    _check_handlers(bus, commands, origin, "sync", raise_type_error=raise_type_error)
    current = None
    try:
        with uow as transaction:
            for current in commands:
                bus.handle(current, transaction)
            current = None
            transaction.commit()
    except Exception as exc:
        _fail(origin, current, exc)
    _forget_arrangement(uow)


@pytest_asyncio.fixture
async def _messagebus_given_phase(request: pytest.FixtureRequest, bus: Any, uow: Any) -> None:
    """Runs the commands of the ``messagebus_given`` markers with ``bus`` and ``uow``."""
    __tracebackhide__ = True
    await arrange(bus, uow, marked_commands(request.node), origin=f"{MARKER} marker")


@pytest.fixture
def _messagebus_sync_given_phase(
    request: pytest.FixtureRequest, sync_bus: Any, sync_uow: Any
) -> None:
    """Runs the commands of the ``messagebus_given`` markers with ``sync_bus`` and ``sync_uow``."""
    __tracebackhide__ = True
    sync_arrange(sync_bus, sync_uow, marked_commands(request.node), origin=f"{MARKER} marker")


@pytest.fixture
def messagebus_given(bus: Any, uow: Any) -> Callable[..., Awaitable[None]]:
    """``await messagebus_given(*commands)``: the given phase, called from the test.

    Handles the commands with ``bus`` in one committed transaction of ``uow``,
    then empties ``eventstore.messages`` and ``transport.events``; the
    repositories keep the state. Handy with parametrized arrangements::

        @pytest.mark.parametrize("history", [[register], [register, lend]])
        async def test_return(messagebus_given, history, bus, uow):
            await messagebus_given(*history)
    """

    async def given(*commands: Any) -> None:
        __tracebackhide__ = True
        await arrange(bus, uow, commands, origin=f"{MARKER}()", raise_type_error=True)

    return given


@pytest.fixture
def messagebus_sync_given(sync_bus: Any, sync_uow: Any) -> Callable[..., None]:
    """``messagebus_sync_given(*commands)``: sync twin of ``messagebus_given``."""

    def given(*commands: Any) -> None:
        __tracebackhide__ = True
        sync_arrange(
            sync_bus, sync_uow, commands, origin="messagebus_sync_given()", raise_type_error=True
        )

    return given
