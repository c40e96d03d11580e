"""The tests being run, and what the plugin keeps about each until its teardown is reported.

Fixtures and the wrapped messagebus methods have no handle on their test: they
find it on top of :data:`running` (a fixture asking for ``request`` would make
pytest build a fixture definition for it, for every test). What the plugin
keeps about a test lives in one object rather than under several keys of
``item.stash``: each stash lookup costs a few Python calls, and the plugin
would make dozens per test.

This module must not import messagebus: the plugin imports it at start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import _recorder

if TYPE_CHECKING:
    import pytest
    from messagebus import AbstractMessageSerializer

    from ._recorder import Recorder


class RunningTest:
    """One test, from its setup until its teardown has been reported."""

    __slots__ = (
        "call_passed",
        "item",
        "nodeid",
        "overridden",
        "recorder",
        "serializer",
        "transports",
    )

    def __init__(self, item: pytest.Item) -> None:
        self.item = item
        # Read once: reports name their test by it, three times per test.
        self.nodeid = item.nodeid
        # None until messagebus is imported, which may happen during the setup.
        self.recorder: Recorder | None = _recorder.start()
        self.call_passed = False
        # The transport fixtures' values: a failing setup has no funcargs yet.
        self.transports: dict[str, Any] = {}
        # Set on first use.
        self.serializer: AbstractMessageSerializer | None = None
        self.overridden: frozenset[str] | None = None

    def record(self) -> Recorder | None:
        """The test's recorder; started now if messagebus was imported since the setup."""
        if self.recorder is None:
            self.recorder = _recorder.start()
        return self.recorder

    def finish(self) -> None:
        """Stop recording: kept, every message of every test would stay alive."""
        if self.recorder is not None:
            _recorder.stop(self.recorder)
            self.recorder = None


# Innermost last: a test may run pytest in-process (pytester).
running: list[RunningTest] = []


def of(item: pytest.Item) -> RunningTest | None:
    """The state of ``item`` while it runs, else None."""
    for run in reversed(running):
        if run.item is item:
            return run
    return None
