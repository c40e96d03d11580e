"""What the bus did in a test: the report section of a failure.

This module must not import messagebus: the plugin imports it at start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pytest

    from ._state import RunningTest

SECTION_TITLE = "messagebus eventstore"
_TRANSPORT_FIXTURES = ("transport", "sync_transport")


def transports_of(run: RunningTest) -> list[tuple[str, Any]]:
    found: dict[str, Any] = dict(getattr(run.item, "funcargs", None) or {})
    found.update(run.transports)
    return [(name, found[name]) for name in _TRANSPORT_FIXTURES if name in found]


def describe_message(message: Any, verbosity: int) -> str:
    from ._compare import message_dump
    from ._render import Limits, describe

    return describe(type(message).__name__, message_dump(message), Limits.for_verbosity(verbosity))


def describe_event(event: Any, verbosity: int) -> str:
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
    """The section text: recorded messages, streamed events, handler errors; None if none."""
    recorder = run.recorder
    records = recorder.records if recorder is not None else []
    errors = recorder.handler_errors if recorder is not None else []
    sent = [
        (name, list(getattr(transport, "events", ()))) for name, transport in transports_of(run)
    ]
    if not records and not errors and not run.unhandled and not any(events for _, events in sent):
        # The bus did nothing: the failure is about something else.
        return None
    verbosity = run.item.config.get_verbosity()
    lines = []
    if records:
        lines.append(f"Messages recorded ({len(records)}), in order:")
        lines += [
            f"  [{index}] {record.status:<11}  {describe_message(record.message, verbosity)}"
            for index, record in enumerate(records)
        ]
    for name, events in sent:
        lines.append(f"Events sent to {name} ({len(events)}):")
        lines += [
            f"  [{index}] {describe_event(event, verbosity)}" for index, event in enumerate(events)
        ]
    lines += no_handler_lines(run)
    lines += [
        f"Probable cause: a handler raised {type(error).__name__}: {error} "
        "(the transaction was rolled back)"
        for error in errors
    ]
    return "\n".join(lines)


def no_handler_lines(run: RunningTest) -> list[str]:
    """A line for each command the test's bus handled with no handler registered."""
    return [
        f"No handler for the command {kind.__name__} (handled at {where}): messagebus only "
        f"stored it; list the module of its handler in the {option} ini option."
        for kind, option, where in run.unhandled
    ]


def add_section(run: RunningTest, report: pytest.TestReport) -> None:
    """Add what the bus did to the report of a failed setup or call."""
    section = _flow(run)
    if section is not None:
        report.sections.append((SECTION_TITLE, section))
