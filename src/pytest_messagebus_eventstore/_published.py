"""What each event a transport received was serialized from.

messagebus's serializers only serialize: no format but messagebus's own can be
read back. So the ``send_message`` of messagebus's eventstream publishers
(async and sync) is wrapped, with the recorder's patches and removed with
them: while it runs, :data:`sending` holds the message and the publisher's
serializer. The in-memory transports keep them with each event they receive,
and ``assert_messages`` compares the event through them, whatever its format.

A context variable rather than an argument: the publisher calls the transport
with the serialized mapping only, and a variable per task (or thread) cannot
give one publisher's message to another's event.
"""

from __future__ import annotations

import functools
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from messagebus import AbstractMessageSerializer, Message

    # The event (held, so that its id stays its own), and its message and serializer.
    Source = tuple[Mapping[str, Any], tuple[Message[Any], AbstractMessageSerializer]]

sending: ContextVar[tuple[Any, Any] | None] = ContextVar(
    "pytest_messagebus_eventstore_sending", default=None
)


def _async_send(original: Any) -> Any:
    @functools.wraps(original)
    async def send_message(self: Any, message: Any) -> None:
        # getattr: a publisher may lack a serializer, as long as it sends
        # nothing published.
        token = sending.set((message, getattr(self, "serializer", None)))
        try:
            await original(self, message)
        finally:
            sending.reset(token)

    return send_message


def _sync_send(original: Any) -> Any:
    @functools.wraps(original)
    def send_message(self: Any, message: Any) -> None:
        token = sending.set((message, getattr(self, "serializer", None)))
        try:
            original(self, message)
        finally:
            sending.reset(token)

    return send_message


def patches() -> list[tuple[type, str, Any, Any]]:
    """(owner, attribute, original, wrapper) for the publishers of the messagebus imported."""
    from messagebus import AsyncEventstreamPublisher, SyncEventstreamPublisher

    found: list[tuple[type, str, Any, Any]] = []
    for publisher, wrap in (
        (AsyncEventstreamPublisher, _async_send),
        (SyncEventstreamPublisher, _sync_send),
    ):
        original = publisher.__dict__["send_message"]
        found.append((publisher, "send_message", original, wrap(original)))
    return found


def forget_dropped(sources: dict[int, Source], events: list[Mapping[str, Any]]) -> None:
    """Drop the sources of the events no longer in ``events`` (a test emptied the list)."""
    kept = {id(event) for event in events}
    for key in [key for key in sources if key not in kept]:
        del sources[key]
