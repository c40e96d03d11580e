"""Hypothesis examples that each start from the state at the start of the test.

A ``@given`` test runs its body once per example inside one pytest test, so
the fixtures are set up once: without this, example N would see the rows,
messages and events of examples 1 to N-1, and deterministic ids would number
on. hypothesis exposes the body it calls as ``test.hypothesis.inner_test``;
while the test runs, it is wrapped so that the first example takes a snapshot
of the stores, the transports' events, the recorder and the numbering, and
each later one starts from it.

This module must not import messagebus: the plugin imports it at start-up.
"""

from __future__ import annotations

import functools
import inspect
from typing import TYPE_CHECKING, Any

from . import _stores, _transactions
from ._report import transports_of

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._state import RunningTest


class _Start:
    """What each example starts from."""

    def __init__(self, run: RunningTest) -> None:
        self.run = run
        recorder = run.record()
        # The messages recorded so far stay the records' own objects, so that
        # an example's assert_messages on the store checks them (strict mode).
        self.stores = _stores.Snapshot(
            deep=True, shared=[record.message for record in recorder.records] if recorder else ()
        )
        self.events = [(events, len(events)) for events in _event_lists(run)]
        self.recorded = (
            None
            if recorder is None
            else (len(recorder.records), len(recorder.handler_errors), len(recorder.checks))
        )
        self.counts = [
            (callback, callback.count)
            for callback in (recorder.before_add if recorder is not None else ())
            if hasattr(callback, "count")
        ]
        # The plugin's own metrics store; a project's own is left as it is.
        self.metrics_store: Any = run.metrics
        counted = getattr(self.metrics_store, "_counted", None)
        self.metrics = None if counted is None else counted()

    def restore(self) -> None:
        _transactions.close_all()
        _transactions.forget_writes()
        self.stores.restore()
        for events, size in self.events:
            del events[size:]
        recorder = self.run.recorder
        if recorder is not None and self.recorded is not None:
            records, errors, checked = self.recorded
            del recorder.records[records:]
            del recorder.handler_errors[errors:]
            del recorder.checks[checked:]
        for callback, count in self.counts:
            callback.count = count
        if self.metrics is not None:
            self.metrics_store._back_to(self.metrics)


def _event_lists(run: RunningTest) -> list[Any]:
    """The ``events`` lists of the test's transport fixtures."""
    found = []
    for _, transport in transports_of(run):
        events = getattr(transport, "events", None)
        if isinstance(events, list):
            found.append(events)
    return found


def is_hypothesis_test(item: Any) -> bool:
    function = getattr(item, "function", None)
    return getattr(getattr(function, "hypothesis", None), "inner_test", None) is not None


def isolate_examples(run: RunningTest) -> Callable[[], None] | None:
    """Wrap the test's hypothesis body, if it has one; returns what unwraps it."""
    handle: Any = getattr(getattr(run.item, "obj", None), "hypothesis", None)
    inner = getattr(handle, "inner_test", None)
    if inner is None:
        return None
    start: list[_Start] = []

    def begin_example() -> None:
        if start:
            start[0].restore()
        else:
            start.append(_Start(run))

    wrapper: Callable[..., Any]
    if inspect.iscoroutinefunction(inner):

        @functools.wraps(inner)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            begin_example()
            return await inner(*args, **kwargs)

    else:

        @functools.wraps(inner)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            begin_example()
            return inner(*args, **kwargs)

    handle.inner_test = wrapper

    def unwrap() -> None:
        handle.inner_test = inner

    return unwrap
