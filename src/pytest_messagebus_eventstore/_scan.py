"""Scanning the handler modules once per session, and a fresh bus per test."""

from __future__ import annotations

import inspect
import sys
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


_BUS_TYPES: dict[Flavour, tuple[type[Any], type[Any]]] = {
    "async": (_AsyncScanBus, AsyncMessageBus),
    "sync": (_SyncScanBus, SyncMessageBus),
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


def make_bus(config: pytest.Config, flavour: Flavour, dependencies: Mapping[str, Any]) -> Any:
    """A new bus holding the handlers of the modules listed in the ini option.

    Each distinct module list is scanned once per session; a test that adds or
    removes listeners on its bus does not change the next test's bus.
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
    bus = bus_type(**dependencies)
    bus.commands_registry.update(scanned.commands_registry)
    for message_type, hooks in scanned.events_registry.items():
        bus.events_registry[message_type] = list(hooks)
    return bus
