"""In-memory eventstream transports: what would have been sent to the stream."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from messagebus import AsyncAbstractEventstreamTransport, SyncAbstractEventstreamTransport


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
