"""Where messagebus keeps its metrics store class, and the running test's store.

messagebus counts transactions and messages since 0.14, through the
``metrics_store`` of a unit of work: its ``AbstractMetricsStore`` is in
``messagebus.infrastructure.observability.metrics`` in 0.14 and in
``messagebus.ports.observability`` since 0.15; 0.12 and 0.13 have none. The
plugin imports this module on first use, once messagebus is imported.
"""

from __future__ import annotations

import sys
from importlib import import_module
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

import messagebus
import pytest

if TYPE_CHECKING:
    from collections.abc import Callable

    from messagebus.ports.observability import AbstractMetricsStore

    from ._state import RunningTest

_LOCATIONS = ("messagebus.ports.observability", "messagebus.infrastructure.observability.metrics")


def _metrics_store_base() -> type[AbstractMetricsStore] | None:
    for location in _LOCATIONS:
        try:
            base: type[AbstractMetricsStore] = import_module(location).AbstractMetricsStore
        except ImportError:
            continue
        return base
    return None


# Looked up once per process: None on messagebus 0.12 and 0.13.
METRICS_STORE_BASE = _metrics_store_base()
MESSAGEBUS_VERSION: str = getattr(messagebus, "__version__", None) or version("messagebus")
NEEDS_0_14 = f"metrics need messagebus 0.14 or later (this is {MESSAGEBUS_VERSION})"

_HOOK = "pytest_messagebus_make_metrics_store"
_PUBLIC = "pytest_messagebus_eventstore.metrics"
FIXTURE = "messagebus_metrics"


def of_test(run: RunningTest, call_hook: Callable[..., Any]) -> AbstractMetricsStore | None:
    """The running test's metrics store, if something will read it; else None.

    Made on first use, by the hook or as an ``InMemoryMetricsStore``, if the
    test asks for ``messagebus_metrics`` or a hook gives the stores; None before
    messagebus 0.14. ``call_hook`` calls a hook of the plugin for the running test.
    """
    __tracebackhide__ = True
    if METRICS_STORE_BASE is None:
        return None
    store = run.metrics
    if store is not None and store is not False:
        return store
    fixturenames = run.item.fixturenames  # type: ignore[attr-defined]
    if FIXTURE not in fixturenames and not run.plugin.implements(run.item.config, _HOOK):
        return None
    return _made(run, call_hook)


def _made(run: RunningTest, call_hook: Callable[..., Any]) -> AbstractMetricsStore:
    __tracebackhide__ = True
    custom = call_hook(_HOOK)
    if custom is None:
        store: AbstractMetricsStore = (
            sys.modules.get(_PUBLIC) or import_module(_PUBLIC)
        ).InMemoryMetricsStore()
    else:
        from ._misuse import checked

        store = checked(_HOOK, custom)
    run.metrics = store
    return store


def fixture_value(run: RunningTest, call_hook: Callable[..., Any]) -> AbstractMetricsStore:
    """The ``messagebus_metrics`` fixture's value: the test fails before messagebus 0.14."""
    __tracebackhide__ = True
    if METRICS_STORE_BASE is None:
        pytest.fail(
            f"{FIXTURE}: {NEEDS_0_14}.\n"
            "Fix: upgrade messagebus (pip install 'messagebus>=0.14'), or skip this test "
            "on older versions.",
            pytrace=False,
        )
    if run.metrics is False:
        pytest.fail(
            f"{FIXTURE}: requested once the test's units of work were made, with "
            "messagebus's own metrics store: they count into the test's store only when "
            f"the test asks for it from the start.\nFix: list {FIXTURE} among the "
            "arguments of the test, or of one of its fixtures, rather than through "
            "request.getfixturevalue().",
            pytrace=False,
        )
    store = run.metrics
    return _made(run, call_hook) if store is None else store
