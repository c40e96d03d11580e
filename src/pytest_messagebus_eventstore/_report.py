"""What the bus did in a test: the report section of a failure, and strict mode.

This module must not import messagebus: the plugin imports it at start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from ._markers import has_own_marker
from ._state import plugin_state_key

if TYPE_CHECKING:
    from ._state import RunningTest

SECTION_TITLE = "messagebus eventstore"
_TRANSPORT_FIXTURES = ("transport", "sync_transport")
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")
STRICT_MARKER = "messagebus_strict"
STRICT_MARKER_HELP = (
    f"{STRICT_MARKER}(enabled=True): every message the test records and every event "
    "it streams must be checked by assert_messages, or the test errors at teardown. "
    f"{STRICT_MARKER}(False) opts a test out of the {STRICT_MARKER} ini option."
)
_OPT_OUT = f"@pytest.mark.{STRICT_MARKER}(False)"


def configure_strict(config: pytest.Config) -> None:
    value = str(config.getini(STRICT_MARKER)).strip().lower()
    if value not in (*_TRUE, *_FALSE):
        raise pytest.UsageError(
            f"{STRICT_MARKER} = {config.getini(STRICT_MARKER)!r} is not a boolean; "
            f"use one of: {', '.join(_TRUE)} / {', '.join(_FALSE)}"
        )
    config.stash[plugin_state_key].strict_by_default = value in _TRUE


def note_strict_markers(config: pytest.Config, marked: list[pytest.Function]) -> None:
    """Remember the tests that carry the strict marker, or whose class or module does."""
    # By identity: hashing a node is a Python call, and the items live as long as the session.
    config.stash[plugin_state_key].strict_marked = {id(item) for item in marked}


def transports_of(run: RunningTest) -> list[tuple[str, Any]]:
    found: dict[str, Any] = dict(getattr(run.item, "funcargs", None) or {})
    found.update(run.transports)
    return [(name, found[name]) for name in _TRANSPORT_FIXTURES if name in found]


def _describe_message(message: Any, verbosity: int) -> str:
    from ._compare import message_dump
    from ._render import Limits, describe

    return describe(type(message).__name__, message_dump(message), Limits.for_verbosity(verbosity))


def _describe_event(event: Any, verbosity: int) -> str:
    import json

    from ._render import Limits, describe

    payload = event.get("payload") if isinstance(event, dict) else None
    try:
        fields = json.loads(payload) if isinstance(payload, (str, bytes)) else payload
    except ValueError:
        fields = None
    if not isinstance(fields, dict):
        fields = {"payload": payload}
    label = str(event.get("type")) if isinstance(event, dict) else type(event).__name__
    return describe(label, fields, Limits.for_verbosity(verbosity))


def _flow(run: RunningTest) -> str | None:
    """The section text: recorded messages, streamed events, handler errors."""
    recorder = run.recorder
    transports = transports_of(run)
    if (recorder is None or not recorder.records) and not transports:
        return None
    verbosity = run.item.config.get_verbosity()
    records = recorder.records if recorder is not None else []
    lines = [f"Messages recorded ({len(records)}), in order:"]
    lines += [
        f"  [{index}] {record.status:<11}  {_describe_message(record.message, verbosity)}"
        for index, record in enumerate(records)
    ]
    for name, transport in transports:
        events = list(getattr(transport, "events", ()))
        lines.append(f"Events sent to {name} ({len(events)}):")
        lines += [
            f"  [{index}] {_describe_event(event, verbosity)}" for index, event in enumerate(events)
        ]
    for error in recorder.handler_errors if recorder is not None else []:
        lines.append(
            f"Probable cause: a handler raised {type(error).__name__}: {error} "
            "(the transaction was rolled back)"
        )
    return "\n".join(lines)


def add_section(run: RunningTest, report: pytest.TestReport) -> None:
    """Add what the bus did to the report of a failed setup or call."""
    section = _flow(run)
    if section is not None:
        report.sections.append((SECTION_TITLE, section))


def _strict_enabled(run: RunningTest) -> bool:
    __tracebackhide__ = True
    item, plugin = run.item, run.plugin
    # Looking for the marker on every node above the test costs more than the
    # rest of the check: it was done at collection. A test can still mark
    # itself while it runs (request.applymarker).
    if id(item) not in plugin.strict_marked and not has_own_marker(item, STRICT_MARKER):
        return plugin.strict_by_default
    marker = item.get_closest_marker(STRICT_MARKER)
    if marker is None:
        return plugin.strict_by_default
    if len(marker.args) > 1 or set(marker.kwargs) - {"enabled"}:
        pytest.fail(
            "@pytest.mark.messagebus_strict takes one argument, enabled (True or False)",
            pytrace=False,
        )
    enabled = marker.args[0] if marker.args else marker.kwargs.get("enabled", True)
    if not isinstance(enabled, bool):
        pytest.fail(
            f"@pytest.mark.messagebus_strict(enabled=...) expects True or False, got {enabled!r}",
            pytrace=False,
        )
    return enabled


def check_strict(run: RunningTest) -> None:
    """In a strict test that passed, fail on what assert_messages did not check."""
    __tracebackhide__ = True
    if not run.call_passed or not _strict_enabled(run):
        return
    recorder = run.recorder
    if recorder is None:
        # messagebus was not imported: nothing can have been recorded.
        return
    verbosity = run.item.config.get_verbosity()
    unchecked = [
        f"  message [{index}] {_describe_message(record.message, verbosity)}"
        for index, record in enumerate(recorder.records)
        if record.status != "rolled back" and id(record.message) not in recorder.checked
    ]
    for name, transport in transports_of(run):
        unchecked += [
            f"  {name} event [{index}] {_describe_event(event, verbosity)}"
            for index, event in enumerate(getattr(transport, "events", ()))
            if id(event) not in recorder.checked
        ]
    if not unchecked:
        return
    pytest.fail(
        "\n".join(
            [
                f"messagebus strict mode: {len(unchecked)} recorded item(s) not checked "
                "by assert_messages:",
                *unchecked,
                "Check them with assert_messages(eventstore, [...]) or "
                "assert_messages(transport, [...]); a plain == cannot be tracked.",
                f"To opt this test out, mark it {_OPT_OUT}.",
            ]
        ),
        pytrace=False,
    )
