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


def of_test(run: RunningTest, call_hook: Callable[..., Any]) -> AbstractMetricsStore | None:
    """The metrics store of the running test, made on first use; None before messagebus 0.14.

    ``call_hook`` calls a hook of the plugin for the running test.
    """
    __tracebackhide__ = True
    store = run.metrics
    if store is None and METRICS_STORE_BASE is not None:
        custom = call_hook(_HOOK)
        if custom is None:
            store = (sys.modules.get(_PUBLIC) or import_module(_PUBLIC)).InMemoryMetricsStore()
        else:
            from ._misuse import checked

            store = checked(_HOOK, custom)
        run.metrics = store
    return store


def fixture_value(run: RunningTest, call_hook: Callable[..., Any]) -> AbstractMetricsStore:
    """The ``messagebus_metrics`` fixture's value: the test fails before messagebus 0.14."""
    __tracebackhide__ = True
    store = of_test(run, call_hook)
    if store is None:
        pytest.fail(
            f"messagebus_metrics: {NEEDS_0_14}.\n"
            "Fix: upgrade messagebus (pip install 'messagebus>=0.14'), or skip this test "
            "on older versions.",
            pytrace=False,
        )
    return store
