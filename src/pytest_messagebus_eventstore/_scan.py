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
from collections import defaultdict
from typing import TYPE_CHECKING, Any, Literal

import pytest
from messagebus import AsyncMessageBus, SyncMessageBus

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

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
# getter and the two registries.
_SCANNED_STATE_SIZE = 4


class _SessionBus:
    """A bus shared by the tests of a session, put back as scanned after each."""

    _scanned: Any
    _dependencies_of: Callable[[], Mapping[str, Any]]
    commands_registry: dict[Any, Any]
    events_registry: dict[Any, list[Any]]

    def __init__(self, scanned: Any, dependencies_of: Callable[[], Mapping[str, Any]]) -> None:
        super().__init__()
        # What reset() keeps: set after messagebus's __init__, which it replaces.
        self.__dict__["_scanned"] = scanned
        self.__dict__["_dependencies_of"] = dependencies_of
        self.reset()

    @property
    def dependencies(self) -> Mapping[str, Any]:
        given = self.__dict__.get("_given_dependencies")
        return self._dependencies_of() if given is None else given

    @dependencies.setter
    def dependencies(self, value: Mapping[str, Any]) -> None:
        # A test may set them itself, until the end of the test.
        self.__dict__["_given_dependencies"] = value

    def reset(self) -> None:
        state = self.__dict__
        scanned, dependencies_of = state["_scanned"], state["_dependencies_of"]
        # Most tests only handle messages, which changes nothing here: two
        # comparisons cost less than copying the registries again.
        if (
            len(state) == _SCANNED_STATE_SIZE
            and state.get("commands_registry") == scanned.commands_registry
            and state.get("events_registry") == scanned.events_registry
        ):
            return
        state.clear()
        state["_scanned"], state["_dependencies_of"] = scanned, dependencies_of
        self.commands_registry = dict(scanned.commands_registry)
        events = scanned.events_registry
        self.events_registry = defaultdict(list, {kind: list(events[kind]) for kind in events})


class _AsyncSessionBus(_SessionBus, AsyncMessageBus):  # type: ignore[type-arg]
    pass


class _SyncSessionBus(_SessionBus, SyncMessageBus):  # type: ignore[type-arg]
    pass


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
    for module in modules:
        if module.startswith("."):
            return (
                f"{option}: {module!r} is a relative module name; list absolute "
                "module names, e.g. myapp.service.handlers."
            )
        try:
            bus.scan(module)
        except Exception as exc:
            return (
                f"{option}: cannot scan module {module!r}: "
                f"{type(exc).__name__}: {exc}\n"
                f"Fix the module name in the {option} ini option, or make the "
                "module importable (e.g. with the pythonpath ini option)."
            )
    return bus


def make_bus(
    config: pytest.Config, flavour: Flavour, dependencies_of: Callable[[], Mapping[str, Any]]
) -> Any:
    """The session's bus holding the handlers of the modules listed in the ini option.

    ``dependencies_of`` gives the running test's dependencies. Each distinct
    module list is scanned once per session.
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
    return bus_type(scanned, dependencies_of)
