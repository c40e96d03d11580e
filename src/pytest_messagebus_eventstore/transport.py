"""In-memory eventstream transports: what would have been sent to the stream."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from messagebus import (
    AsyncAbstractEventstreamTransport,
    SyncAbstractEventstreamTransport,
)

if TYPE_CHECKING:
    from collections.abc import Mapping


class InMemoryEventstreamTransport(AsyncAbstractEventstreamTransport):
    """Async transport recording every serialized message in :attr:`events`."""

    def __init__(self) -> None:
        self.events: list[Mapping[str, Any]] = []

    async def send_message_serialized(self, message: Mapping[str, Any]) -> None:
        self.events.append(message)


class SyncInMemoryEventstreamTransport(SyncAbstractEventstreamTransport):
    """Sync twin of :class:`InMemoryEventstreamTransport`."""

    def __init__(self) -> None:
        self.events: list[Mapping[str, Any]] = []

    def send_message_serialized(self, message: Mapping[str, Any]) -> None:
        self.events.append(message)
