"""Scanning the handler modules once per session, and the session's buses.

A fixture set up for every test costs it more than all the rest of the plugin,
so the bus is built once per session and put back as scanned after each test:
a test that adds or removes listeners, or sets attributes on its bus, does not
change the next test's. Its dependencies are the running test's, read when the
bus handles a message.
"""

from __future__ import annotations

import inspect
import sys
import traceback
import warnings
from collections import defaultdict
from typing import TYPE_CHECKING, Any, Literal

import pytest
from messagebus import (
    AsyncDependency,
    AsyncMessageBus,
    GenericCommand,
    SyncDependency,
    SyncMessageBus,
)

from ._awaited import where
from ._state import running

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Mapping, Sequence
    from types import FrameType

    from ._state import RunningTest

Flavour = Literal["async", "sync"]

SCAN_INI = {"async": "messagebus_scan", "sync": "messagebus_sync_scan"}


def _is_current(callback: Callable[..., Any]) -> bool:
    """False for a handler whose module has been imported again since.

    tamahagane keeps the hooks of every import, so a module imported twice in
    one process (as pytester does) would register each handler twice.
    """
    module = sys.modules.get(getattr(callback, "__module__", ""))
    namespace = getattr(callback, "__globals__", None)
    return namespace is None or (module is not None and vars(module) is namespace)


class _AsyncScanBus(AsyncMessageBus):  # type: ignore[type-arg]
    # Until messagebus 0.16, async_listen and sync_listen share one venusian
    # category: keep only the handlers of this bus's flavour.
    def add_listener(self, msg_type: Any, callback: Any) -> None:
        if inspect.iscoroutinefunction(callback) and _is_current(callback):
            super().add_listener(msg_type, callback)


class _SyncScanBus(SyncMessageBus):  # type: ignore[type-arg]
    def add_listener(self, msg_type: Any, callback: Any) -> None:
        if not inspect.iscoroutinefunction(callback) and _is_current(callback):
            super().add_listener(msg_type, callback)


# What a bus put back as scanned holds: the scanned bus, the dependencies
# getter and fixture, and the two registries.
_SCANNED_STATE_SIZE = 5

_has = dict.__contains__
# The frames between the bus's dispatch of a message and the code that called the bus.
_PASSED_THROUGH = ("messagebus.", f"{__package__}.", "asyncio.")
# The frames that call a test or a fixture: reached, the call came from no user code.
_RUNNERS = ("_pytest.", "pluggy.", "pytest_asyncio.")


class _Listeners(defaultdict[Any, list[Any]]):
    """The events registry of a session bus, which notes the commands no handler handles.

    messagebus looks each message's class up in the commands registry, then in
    this one, and stores the message whether found or not: a command found in
    neither is stored without a word. A handled command never gets here, and
    an event costs one Python call.
    """

    __slots__ = ()
    flavour: Flavour

    def __contains__(self, kind: object) -> bool:
        if _has(self, kind):
            return True
        if GenericCommand in kind.__mro__:  # type: ignore[attr-defined]
            _no_handler(kind, self.flavour)  # type: ignore[arg-type]
        return False


class _AsyncListeners(_Listeners):
    __slots__ = ()
    flavour = "async"


class _SyncListeners(_Listeners):
    __slots__ = ()
    flavour = "sync"


def _caller(run: RunningTest) -> tuple[str, int]:
    """The file and line of the user code that called the bus, else of the test."""
    # Above this function, _no_handler and __contains__: messagebus's dispatch.
    frame: FrameType | None = sys._getframe(3)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.startswith(_RUNNERS):
            break
        if not module.startswith(_PASSED_THROUGH):
            return frame.f_code.co_filename, frame.f_lineno
        frame = frame.f_back
    # A fixture's arrangement (the given marker): the test it was for.
    path, line, _ = run.item.reportinfo()
    return str(path), (line or 0) + 1


def _no_handler(kind: type[Any], flavour: Flavour) -> None:
    """Warn that messagebus stores a command of ``kind`` unhandled, and note it on the test."""
    if not running:
        return
    run = running[-1]
    filename, line = _caller(run)
    option = SCAN_INI[flavour]
    run.unhandled.append((kind, option, where(run.item.config, filename, line)))
    modules = ", ".join(run.item.config.getini(option)) or "(none)"
    warnings.warn_explicit(
        f"messagebus: no handler for the command {kind.__name__} on the {flavour} bus, so "
        f"it was only stored. The {option} ini option lists: {modules}; list the module "
        "of its handler there.",
        pytest.PytestWarning,
        filename,
        line,
    )


class _SessionBus:
    """A bus shared by the tests of a session, put back as scanned after each."""

    _scanned: Any
    _dependencies_of: Callable[[], Mapping[str, Any]]
    # The fixture the dependencies come from, for the errors.
    _dependencies_fixture: str
    _listeners: type[_Listeners]
    commands_registry: dict[Any, Any]
    events_registry: dict[Any, list[Any]]

    def __init__(
        self,
        scanned: Any,
        dependencies_of: Callable[[], Mapping[str, Any]],
        dependencies_fixture: str,
    ) -> None:
        super().__init__()
        # What reset() keeps: set after messagebus's __init__, which it replaces.
        self.__dict__["_scanned"] = scanned
        self.__dict__["_dependencies_of"] = dependencies_of
        self.__dict__["_dependencies_fixture"] = dependencies_fixture
        self.reset()

    _dependency_base: type
    _other_dependency_base: type

    @property
    def dependencies(self) -> Mapping[str, Any]:
        given: Mapping[str, Any] | None = self.__dict__.get("_given_dependencies")
        if given is not None:
            return given
        found: Mapping[str, Any] = self._dependencies_of()
        # Once per mapping: a test's fixture gives the same one to every handle.
        if found and running and running[-1].checked_dependencies is not found:
            self._check(found)
            running[-1].checked_dependencies = found
        return found

    @dependencies.setter
    def dependencies(self, value: Mapping[str, Any]) -> None:
        # A test may set them itself, until the end of the test.
        self.__dict__["_given_dependencies"] = value

    def _check(self, dependencies: Mapping[str, Any]) -> None:
        """Refuse what messagebus would fail on obscurely: it calls each value, then its hooks."""
        __tracebackhide__ = True
        base, other = self._dependency_base.__name__, self._other_dependency_base.__name__
        for name, given in dependencies.items():
            # A class of this flavour, or any other callable making one (messagebus
            # does not require the base): the other flavour's, or an instance, fails.
            if isinstance(given, type):
                if not issubclass(given, self._other_dependency_base):
                    continue
                problem = f"is {given.__name__}, a messagebus {other}"
                fix = f"this bus takes {base} subclasses; give {given.__name__} to the other bus"
            elif isinstance(given, (self._dependency_base, self._other_dependency_base)):
                kind = type(given).__name__
                problem = (
                    f"is an instance of {kind}: the bus calls what it maps a handler "
                    "parameter to, to make one instance per handle"
                )
                fix = (
                    f"map the parameter to the class, {{{name!r}: {kind}}}; to give one "
                    f"instance to one call, pass it: bus.handle(command, transaction, "
                    f"{name}=instance)"
                )
            else:
                continue
            raise TypeError(
                f"{self._dependencies_fixture}: the dependency {name!r} {problem}.\nFix: {fix}."
            )

    def reset(self) -> None:
        state = self.__dict__
        kept = state["_scanned"], state["_dependencies_of"], state["_dependencies_fixture"]
        scanned = kept[0]
        # Most tests only handle messages, which changes nothing here: two
        # comparisons cost less than copying the registries again.
        if (
            len(state) == _SCANNED_STATE_SIZE
            and state.get("commands_registry") == scanned.commands_registry
            and state.get("events_registry") == scanned.events_registry
        ):
            return
        state.clear()
        state["_scanned"], state["_dependencies_of"], state["_dependencies_fixture"] = kept
        self.commands_registry = dict(scanned.commands_registry)
        events = scanned.events_registry
        self.events_registry = self._listeners(list, {kind: list(events[kind]) for kind in events})


class _AsyncSessionBus(_SessionBus, AsyncMessageBus):  # type: ignore[type-arg]
    _listeners = _AsyncListeners
    _dependency_base = AsyncDependency
    _other_dependency_base = SyncDependency

    def handle(
        self, command: Any, uow: Any, **transient_dependencies: Any
    ) -> Coroutine[Any, Any, Any]:
        coroutine = AsyncMessageBus.handle(self, command, uow, **transient_dependencies)
        # Checked at the test's teardown for a missing await.
        if running:
            # The offset, not the line: the line costs a walk of the code's line table.
            caller = sys._getframe(1)
            running[-1].awaitables.append((coroutine, caller.f_code, caller.f_lasti))
        return coroutine


class _SyncSessionBus(_SessionBus, SyncMessageBus):  # type: ignore[type-arg]
    _listeners = _SyncListeners
    _dependency_base = SyncDependency
    _other_dependency_base = AsyncDependency


_BUS_TYPES: dict[Flavour, tuple[type[Any], type[_SessionBus]]] = {
    "async": (_AsyncScanBus, _AsyncSessionBus),
    "sync": (_SyncScanBus, _SyncSessionBus),
}

ScanResult = Any  # a scanned bus, or the text of the error that stopped the scan
_scan_cache_key = pytest.StashKey[dict[tuple[Flavour, tuple[str, ...]], ScanResult]]()


def _scan(flavour: Flavour, modules: Sequence[str]) -> ScanResult:
    scan_bus, _ = _BUS_TYPES[flavour]
    bus = scan_bus()
    option = SCAN_INI[flavour]
    for index, module in enumerate(modules):
        if module.startswith("."):
            return (
                f"{option}: {module!r} is a relative module name; list absolute "
                "module names, e.g. myapp.service.handlers."
            )
        try:
            bus.scan(module)
        except Exception as exc:
            return _scan_error(flavour, modules[: index + 1], exc)
    return bus


def _scan_error(flavour: Flavour, modules: Sequence[str], exc: Exception) -> str:
    """What stopped the scan of the last of ``modules``, and how to fix it."""
    option = SCAN_INI[flavour]
    module = modules[-1]
    missing = getattr(exc, "name", None) if isinstance(exc, ModuleNotFoundError) else None
    if missing is not None and (module == missing or module.startswith(f"{missing}.")):
        found = "" if missing == module else f" (no module named {missing!r})"
        return (
            f"{option}: no module named {module!r}{found}.\n"
            f"Fix the module name in the {option} ini option, or make the module "
            "importable (e.g. with the pythonpath ini option)."
        )
    if isinstance(exc, SyntaxError):
        return f"{option}: cannot import {module!r}:\n" + "".join(
            traceback.format_exception_only(type(exc), exc)
        ).rstrip("\n")
    frames = _import_frames(exc)
    if frames:
        hint = (
            f"Install the package {missing!r}, or fix the import."
            if missing is not None
            else "Fix the error where it is raised."
        )
        return (
            f"{option}: module {module!r} was found, but importing it failed:\n"
            f"{frames}{type(exc).__name__}: {exc}\n{hint}"
        )
    return _duplicate_handlers(flavour, modules) or (
        f"{option}: cannot scan module {module!r}: {type(exc).__name__}: {exc}"
    )


# The frames of a failed import that show the user's code.
_IMPORT_FRAMES = 3


def _import_frames(exc: BaseException) -> str:
    """The last frames of the module code that ``exc`` stopped, as a traceback shows them."""
    # The import machinery's frames say nothing of the error.
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if not frame.filename.startswith("<frozen ")
    ]
    # From the first module body run by the import: before it, the scanners' frames.
    for start, frame in enumerate(frames):
        if frame.name == "<module>":
            return "".join(traceback.format_list(frames[start:][-_IMPORT_FRAMES:]))
    return ""


def _registrations(flavour: Flavour, module: str) -> list[tuple[Any, Any]]:
    """The commands and their handlers that a scan of ``module`` alone registers."""
    bus: Any = _LISTING_BUSES[flavour]()
    bus.scan(module)
    registered: list[tuple[Any, Any]] = bus.registered
    return registered


def _duplicate_handlers(flavour: Flavour, modules: Sequence[str]) -> str | None:
    """Which listed modules register a handler of one command twice, if they do."""
    option = SCAN_INI[flavour]
    seen: dict[Any, tuple[str, Any]] = {}
    for module in modules:
        try:
            registered = _registrations(flavour, module)
        except Exception:
            return None
        for command, handler in registered:
            first = seen.get(command)
            if first is None:
                seen[command] = (module, handler)
                continue
            first_module, first_handler = first
            name = getattr(command, "__name__", repr(command))
            if handler is not first_handler:
                return (
                    f"{option}: command {name} has two handlers: {_name(first_handler)} "
                    f"(scanned from {first_module!r}) and {_name(handler)} (scanned from "
                    f"{module!r}).\nA command has one handler: remove one of them."
                )
            if module == first_module:
                return (
                    f"{option}: {module!r} is listed twice, and registers "
                    f"{_name(handler)} for {name} twice.\nList each module once."
                )
            return (
                f"{option}: {first_module!r} and {module!r} both register "
                f"{_name(handler)} for {name}: a scan includes the submodules of a "
                f"package.\nList only one of {first_module!r} and {module!r}."
            )
    return None


def _name(handler: Any) -> str:
    return f"{getattr(handler, '__module__', '?')}.{getattr(handler, '__qualname__', handler)}"


class _Listing:
    """A scan bus that lists the commands and handlers it registers, twice if so."""

    commands_registry: dict[Any, Any]

    def __init__(self) -> None:
        super().__init__()
        self.registered: list[tuple[Any, Any]] = []

    def add_listener(self, msg_type: Any, callback: Any) -> None:
        # Forgotten at once: messagebus refuses a command's second handler.
        self.commands_registry.pop(msg_type, None)
        super().add_listener(msg_type, callback)  # type: ignore[misc]
        if msg_type in self.commands_registry:
            self.registered.append((msg_type, callback))


class _AsyncListingBus(_Listing, _AsyncScanBus):
    pass


class _SyncListingBus(_Listing, _SyncScanBus):
    pass


_LISTING_BUSES: dict[Flavour, type[_Listing]] = {
    "async": _AsyncListingBus,
    "sync": _SyncListingBus,
}


def make_bus(
    config: pytest.Config,
    flavour: Flavour,
    dependencies_of: Callable[[], Mapping[str, Any]],
    dependencies_fixture: str,
) -> Any:
    """The session's bus holding the handlers of the modules listed in the ini option.

    ``dependencies_of`` gives the running test's dependencies, from the fixture
    ``dependencies_fixture``. Each distinct module list is scanned once per session.
    """
    __tracebackhide__ = True
    modules = tuple(config.getini(SCAN_INI[flavour]))
    cache = config.stash.setdefault(_scan_cache_key, {})
    scanned = cache.get((flavour, modules))
    if scanned is None:
        scanned = cache[(flavour, modules)] = _scan(flavour, modules)
    if isinstance(scanned, str):
        pytest.fail(scanned, pytrace=False)
    _, bus_type = _BUS_TYPES[flavour]
    return bus_type(scanned, dependencies_of, dependencies_fixture)
