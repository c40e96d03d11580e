"""Strict mode: a test that passed must have checked everything it recorded or streamed.

Which tests are strict is settled at collection, from the markers of each test,
class and module and the ini option, and kept on each test's
:class:`~._state.RunningTest`. What an assertion checked is noted by the
recorder (:meth:`~._recorder.Recorder.note_checked`); this module works out at
teardown which records and events that covers. The plugin module registers the
marker and the ini option.

This module must not import messagebus: the plugin imports it at start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from ._markers import bad_switch, has_own_marker, read_switch, switch_value
from ._report import describe_event, describe_message, no_handler_lines, transports_of
from ._state import plugin_state_key

if TYPE_CHECKING:
    from ._recorder import Recorder
    from ._state import RunningTest

MARKER = "messagebus_strict"
INI = "messagebus_strict"
MARKER_HELP = (
    f"{MARKER}(enabled=True): every message the test records and every event "
    "it streams must be checked by assert_messages, or the test errors at teardown. "
    f"{MARKER}(False) opts a test out of the {INI} ini option."
)
INI_HELP = (
    "messagebus: in every passing test, each recorded message and streamed event "
    f"must be checked by assert_messages (default false), as the {MARKER} marker does."
)
_OPT_OUT = f"@pytest.mark.{MARKER}(False)"


def configure(config: pytest.Config) -> None:
    config.stash[plugin_state_key].strict_by_default = read_switch(config, INI)


def note_markers(config: pytest.Config, enabled: dict[int, bool]) -> None:
    """Remember the marker's value on each test that carries it, or whose class or module does."""
    config.stash[plugin_state_key].strict_by_test = enabled


def _enabled(run: RunningTest) -> bool:
    __tracebackhide__ = True
    item = run.item
    # A test can still mark itself while it runs (request.applymarker): only
    # its own markers may have changed since the collection.
    if not has_own_marker(item, MARKER):
        return run.strict
    mark = item.get_closest_marker(MARKER)
    assert mark is not None
    enabled = switch_value(mark)
    if enabled is None:
        pytest.fail(bad_switch(item.nodeid, mark), pytrace=False)
    return enabled


def _coverage(recorder: Recorder) -> tuple[set[int], set[int]]:
    """The positions of the records the assertions checked, and the ids of all they checked.

    By identity: the recorder holds every record and every item an assertion
    checked until the test ends, so no id here can belong to another object.
    A record counts only if it was there when its message was checked.
    """
    positions: dict[int, list[int]] = {}
    for position, record in enumerate(recorder.records):
        positions.setdefault(id(record.message), []).append(position)
    records: set[int] = set()
    items: set[int] = set()
    for recorded, checked in recorder.checks:
        for item in checked:
            items.add(id(item))
            for position in positions.get(id(item), ()):
                if position < recorded:
                    records.add(position)
    return records, items


def check(run: RunningTest) -> None:
    """In a strict test that passed, fail on what assert_messages did not check."""
    __tracebackhide__ = True
    if not run.call_passed or not _enabled(run):
        return
    recorder = run.recorder
    if recorder is None:
        # messagebus was not imported: nothing can have been recorded.
        return
    checked_records, checked = _coverage(recorder)
    verbosity = run.item.config.get_verbosity()
    unchecked = [
        f"  message [{index}] {describe_message(record.message, verbosity)}"
        for index, record in enumerate(recorder.records)
        if record.status != "rolled back" and index not in checked_records
    ]
    for name, transport in transports_of(run):
        unchecked += [
            f"  {name} event [{index}] {describe_event(event, verbosity)}"
            for index, event in enumerate(getattr(transport, "events", ()))
            if id(event) not in checked
        ]
    unhandled = no_handler_lines(run)
    if not unchecked and not unhandled:
        return
    lines = []
    if unchecked:
        lines += [
            f"messagebus strict mode: {len(unchecked)} recorded item(s) not checked "
            "by assert_messages:",
            *unchecked,
            "Check them with assert_messages(eventstore, [...]) or "
            "assert_messages(transport, [...]); a plain == cannot be tracked.",
        ]
    if unhandled:
        lines += ["messagebus strict mode: a command found no handler.", *unhandled]
    lines.append(f"To opt this test out, mark it {_OPT_OUT}.")
    pytest.fail("\n".join(lines), pytrace=False)
