"""In-memory message stores: every message the bus handles, in order."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from ._compat import (
    AsyncAbstractMessageStoreRepository,
    SyncAbstractMessageStoreRepository,
)
from .repository import InMemoryRepository

if TYPE_CHECKING:
    from messagebus import Message


class InMemoryEventstoreRepository(InMemoryRepository, AsyncAbstractMessageStoreRepository):
    """Async message store keeping every added message in :attr:`messages`.

    ``messages`` is a class attribute, shared by every instance as the rows of
    a table are; the plugin empties it after each test. Pass ``publisher=`` to
    stream the published messages on commit, as with any messagebus store.
    """

    messages: ClassVar[list[Message[Any]]] = []

    async def _add(self, message: Message[Any]) -> None:
        self.messages.append(message)


class SyncInMemoryEventstoreRepository(InMemoryRepository, SyncAbstractMessageStoreRepository):
    """Sync twin of :class:`InMemoryEventstoreRepository`, with its own ``messages``."""

    messages: ClassVar[list[Message[Any]]] = []

    def _add(self, message: Message[Any]) -> None:
        self.messages.append(message)
