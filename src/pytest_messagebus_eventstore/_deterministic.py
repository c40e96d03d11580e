"""Deterministic message ids and timestamps, so that serialized events repeat.

With ``@pytest.mark.messagebus_deterministic`` or the ini option
``messagebus_deterministic = true`` (which ``messagebus_deterministic(False)``
opts a test out of), every message a message store records
during the test is given ``message_id = uuidgen(n)`` (``lastuuid.dummies``)
and ``created_at = 2000-01-01 00:00:00 + (n - 1) ms``, n counting from 1 in
recording order, again from 1 after a given phase.

The values are assigned when the store records the message (the recorder's
``before_add`` callbacks), not by patching the id factory: on messagebus 0.12
the factory is bound into each message class when it is defined. Messages
outlive the test when they are module constants, so their own values are put
back at teardown. The plugin module registers the marker, the ini option, the
hook and the fixture (:data:`FIXTURE`).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest

from . import _recorder, _state
from ._markers import read_switch

if TYPE_CHECKING:
    from collections.abc import Iterator

MARKER = "messagebus_deterministic"
INI = "messagebus_deterministic"
FIXTURE = "_messagebus_deterministic"
START = datetime(2000, 1, 1)

INI_HELP = (
    "messagebus: give every message of every test sequential ids "
    "(lastuuid.dummies.uuidgen(1), (2), ...) and timestamps from 2000-01-01, "
    "as the messagebus_deterministic marker does."
)
MARKER_HELP = (
    f"{MARKER}(enabled=True): give the messages recorded during the test the ids "
    "lastuuid.dummies.uuidgen(1), (2), ... and the timestamps 2000-01-01 00:00:00 "
    "+ 0 ms, 1 ms, ..., in recording order, from 1 again after a given phase. "
    f"{MARKER}(False) opts a test out of the {INI} ini option."
)


def configure(config: pytest.Config) -> None:
    config.stash[_state.plugin_state_key].numbered_by_default = read_switch(config, INI)


def add_numbering_fixture(
    config: pytest.Config,
    items: list[pytest.Item],
    marked: list[pytest.Function],
    enabled: dict[int, bool],
) -> None:
    """Give the fixture that numbers messages to the tests it is on for.

    ``marked`` are the tests that carry the marker, or whose class or module
    does, and ``enabled`` its value on each, by the test's id; with the ini
    option, every test but those marked off.
    """
    if config.stash[_state.plugin_state_key].numbered_by_default:
        numbered = [
            item
            for item in items
            if isinstance(item, pytest.Function) and enabled.get(id(item), True)
        ]
    else:
        numbered = [item for item in marked if enabled.get(id(item), False)]
    for item in numbered:
        # First, so that messages handled by the test's other fixtures count too.
        item.fixturenames = [FIXTURE, *item.fixturenames]


class Numbering:
    """Gives each message its number's id and timestamp, remembering its own."""

    def __init__(self) -> None:
        self.count = 0
        self._originals: dict[int, tuple[Any, Any, Any]] = {}
        self._starts: dict[type, datetime] = {}

    def __call__(self, message: Any) -> None:
        from lastuuid.dummies import uuidgen

        self.count += 1
        # Through __dict__: a project may freeze its messages (frozen=True).
        fields = message.__dict__
        self._originals.setdefault(
            id(message), (message, fields["message_id"], fields["created_at"])
        )
        fields["message_id"] = uuidgen(self.count)
        fields["created_at"] = self._start(type(message)) + timedelta(milliseconds=self.count - 1)

    def _start(self, message_type: type) -> datetime:
        start = self._starts.get(message_type)
        if start is None:
            # Naive on messagebus versions whose messages are naive (utcnow), as
            # the messages the project builds itself are.
            field = message_type.model_fields["created_at"]  # type: ignore[attr-defined]
            factory = field.default_factory
            aware = factory is not None and factory().tzinfo is not None
            start = self._starts[message_type] = (
                START.replace(tzinfo=timezone.utc) if aware else START
            )
        return start

    def restart(self) -> None:
        self.count = 0

    def restore(self) -> None:
        """Give every numbered message its own id and timestamp back."""
        for message, message_id, created_at in self._originals.values():
            message.__dict__["message_id"] = message_id
            message.__dict__["created_at"] = created_at
        self._originals.clear()


def restart_numbering() -> None:
    """Number from 1 again: what came before was a given phase, not the act."""
    recorder = _recorder.active_recorder()
    if recorder is not None:
        for callback in recorder.before_add:
            if isinstance(callback, Numbering):
                callback.restart()


def numbered(item: pytest.Item) -> Iterator[None]:
    """Number the messages recorded while the generator is suspended (the test)."""
    # The recorder wraps the stores once messagebus is imported; make sure it is.
    import messagebus  # noqa: F401

    run = _state.of(item)
    recorder = run.record() if run is not None else None
    assert recorder is not None
    numbering = Numbering()
    recorder.before_add.append(numbering)
    yield
    recorder.before_add.remove(numbering)
    numbering.restore()
