"""The tests being run, and what the plugin keeps about each session and each test.

Fixtures and the wrapped messagebus methods have no handle on their test: they
find it on top of :data:`running` (a fixture asking for ``request`` would make
pytest build a fixture definition for it, for every test). What the plugin
keeps lives in one object per session and one per test rather than under
several stash keys: each stash lookup costs a few Python calls, and the plugin
would make dozens per test. A test looks its session's state up once, at its
setup.

This module must not import messagebus: the plugin imports it at start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import pytest

from . import _recorder, _stores

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from types import CodeType

    from messagebus import AbstractMessageSerializer
    from messagebus.ports.observability import AbstractMetricsStore

    from ._recorder import Recorder


class PluginState:
    """What the plugin keeps for one pytest session, under :data:`plugin_state_key`."""

    __slots__ = (
        "buses",
        "hooked",
        "hooks_by_parent",
        "hypothesis_tests",
        "numbered_by_default",
        "overridden_at",
        "session",
        "strict_by_default",
        "strict_by_test",
        "wider_scoped",
    )

    def __init__(self) -> None:
        # What the stores held before the session, given back when it ends.
        self.session: _stores.Session | None = None
        # The session's buses, put back as scanned after each test.
        self.buses: list[Any] = []
        # The hook proxy of each class or module, by the node's id.
        self.hooks_by_parent: dict[int, Any] = {}
        # The overridable fixtures that each class, module or directory node
        # sees defined elsewhere than in the plugin, by the node's id.
        self.overridden_at: dict[int, Mapping[str, pytest.FixtureDef[Any] | None]] = {}
        # The messagebus_strict ini option, and the marker's value on the tests
        # that carried it (or whose class or module did) at collection, by the
        # test's id: hashing a node is a Python call, and the items live as
        # long as the session.
        self.strict_by_default = False
        self.strict_by_test: dict[int, bool] = {}
        # The messagebus_deterministic ini option.
        self.numbered_by_default = False
        # The ids of the hypothesis tests, whose examples each start afresh.
        self.hypothesis_tests: set[int] = set()
        # Whether each of the plugin's hooks is implemented, by name.
        self.hooked: dict[str, bool] = {}
        # Whether each fixture definition set up so far is wider than a
        # function: its ``scope`` property costs three Python calls.
        self.wider_scoped: dict[pytest.FixtureDef[Any], bool] = {}

    def implements(self, config: pytest.Config, hook: str) -> bool:
        """Whether some plugin or conftest implements ``hook``: asked of pluggy once."""
        found = self.hooked.get(hook)
        if found is None:
            found = self.hooked[hook] = bool(getattr(config.hook, hook).get_hookimpls())
        return found


plugin_state_key = pytest.StashKey[PluginState]()


class RunningTest:
    """One test, from its setup until its teardown has been reported."""

    __slots__ = (
        "awaitables",
        "call_passed",
        "called_fixtures",
        "checked_dependencies",
        "item",
        "location",
        "metrics",
        "overridden_above",
        "plugin",
        "recorder",
        "serializer",
        "strict",
        "transports",
        "unhandled",
        "unwrap",
    )

    def __init__(self, item: pytest.Item, plugin: PluginState) -> None:
        self.item = item
        self.plugin = plugin
        # A test's reports carry this very tuple (``item.location`` is cached):
        # comparing node ids costs two Python calls per report on pytest 9.
        self.location = item.location
        # None until messagebus is imported, which may happen during the setup.
        self.recorder: Recorder | None = _recorder.start()
        self.call_passed = False
        # Strict mode, as the collection found it (see _strict).
        self.strict = plugin.strict_by_test.get(id(item), plugin.strict_by_default)
        # The transport fixtures' values: a failing setup has no funcargs yet.
        self.transports: dict[str, Any] = {}
        # Set on first use. The metrics store is shared by the test's units of
        # work; False once they keep messagebus's own (see _metrics).
        self.serializer: AbstractMessageSerializer | None = None
        self.metrics: AbstractMetricsStore | Literal[False] | None = None
        self.overridden_above: Mapping[str, pytest.FixtureDef[Any] | None] | None = None
        # The overrides the plugin called itself (see plugin._plain): name ->
        # (definition, value).
        self.called_fixtures: dict[str, tuple[pytest.FixtureDef[Any], Any]] | None = None
        # Puts the hypothesis test's body back, after the test.
        self.unwrap: Callable[[], None] | None = None
        # The coroutines of ``bus.handle`` and ``messagebus_given`` calls, each
        # as (coroutine, caller's code, caller's last instruction offset),
        # checked for a missing ``await`` at the teardown.
        self.awaitables: list[tuple[Any, CodeType, int]] = []
        # The commands a session bus handled with no handler registered for
        # their class, in order, each as (command class, ini option listing the
        # scanned modules, "path:line" of the test's call or the test itself).
        self.unhandled: list[tuple[type[Any], str, str]] = []
        # The last dependencies mapping a session bus checked (see _scan).
        self.checked_dependencies: Any = None

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
    if running and running[-1].item is item:
        return running[-1]
    # Below the top: a test of an outer session, while an inner one runs (pytester).
    for run in reversed(running):
        if run.item is item:
            return run
    return None
