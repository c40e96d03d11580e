"""In-memory eventstream transports: what would have been sent to the stream."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from messagebus import (
    AsyncAbstractEventstreamTransport,
    SyncAbstractEventstreamTransport,
)

from ._published import forget_dropped, sending

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ._published import Source

# Sources kept for events no longer listed (a test emptied ``events``) before
# they are dropped: checking at every event would cost each event a loop.
_STALE = 64


class _Recording:
    """The events a transport was sent, and what each was serialized from."""

    def __init__(self) -> None:
        self.events: list[Mapping[str, Any]] = []
        # What each event sent by an eventstream publisher was serialized from, by
        # the event's id: assert_messages compares the event through them.
        self._sources: dict[int, Source] = {}

    def _record(self, message: Mapping[str, Any], source: tuple[Any, Any] | None = None) -> None:
        """Keep ``message``, and what it was serialized from: ``source``, else the sender's."""
        self.events.append(message)
        if source is None:
            source = sending.get()
        if source is not None:
            sources = self._sources
            sources[id(message)] = (message, source)
            if len(sources) > len(self.events) + _STALE:
                forget_dropped(sources, self.events)


class InMemoryEventstreamTransport(_Recording, AsyncAbstractEventstreamTransport):
    """Async transport recording every serialized message in :attr:`events`."""

    async def send_message_serialized(self, message: Mapping[str, Any]) -> None:
        self._record(message)


class SyncInMemoryEventstreamTransport(_Recording, SyncAbstractEventstreamTransport):
    """Sync twin of :class:`InMemoryEventstreamTransport`."""

    def send_message_serialized(self, message: Mapping[str, Any]) -> None:
        self._record(message)
