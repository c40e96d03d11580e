"""In-memory message stores: every message the bus handles, in order."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from messagebus import Message

from ._compat import (
    STORE_ATTRIBUTE,
    AsyncAbstractMessageStoreRepository,
    SyncAbstractMessageStoreRepository,
)
from ._copies import share_as_values
from ._transactions import Transaction, current
from .repository import InMemoryRepository

if TYPE_CHECKING:
    from collections.abc import MutableSequence

# Messages are records: a transaction reading the store sees the very
# messages the bus handled, not copies.
share_as_values(Message)


def _transaction_of(store: Any, *, ended: bool = False) -> Transaction | None:
    """The innermost open transaction of the running task whose unit of work uses ``store``.

    With ``ended``, also one that committed or rolled back in a block not closed yet.
    """
    for transaction in reversed(current.get()):
        if (transaction.is_open or (ended and not transaction.closed)) and getattr(
            transaction.owner, STORE_ATTRIBUTE, None
        ) is store:
            return transaction
    return None


class _StreamBuffer:
    """The messages to stream: per transaction, so that each streams its own only.

    messagebus keeps one buffer per store and streams all of it when a
    transaction commits: two units of work sharing a store would stream each
    other's messages, and a rolled back transaction's messages would go with
    the next commit.
    """

    _own_stream_buffer: MutableSequence[Message[Any]]

    @property
    def stream_buffer(self) -> MutableSequence[Message[Any]]:
        transaction = _transaction_of(self)
        if transaction is None:
            return self._own_stream_buffer
        return transaction.stream(self)[0]

    @stream_buffer.setter
    def stream_buffer(self, messages: MutableSequence[Message[Any]]) -> None:
        transaction = _transaction_of(self)
        if transaction is None:
            self._own_stream_buffer = messages
        else:
            transaction.stream(self)[0][:] = messages

    def _take_committed(self) -> list[Message[Any]]:
        """What a commit streams: the transaction's committed messages, and any added outside."""
        messages: list[Message[Any]] = []
        transaction = _transaction_of(self, ended=True)
        if transaction is not None:
            committed = transaction.stream(self)[1]
            messages += committed
            committed.clear()
        messages += self._own_stream_buffer
        self._own_stream_buffer = []
        return messages

    def _autocommits(self) -> bool:
        """Whether what is added now is stored outside any transaction."""
        return _transaction_of(self) is None


class InMemoryEventstoreRepository(
    _StreamBuffer, InMemoryRepository, AsyncAbstractMessageStoreRepository
):
    """Async message store keeping every added message in :attr:`messages`.

    ``messages`` is a class attribute, shared by every instance as the rows of
    a table are; the plugin empties it after each test. Pass ``publisher=`` to
    stream the published messages on commit, as with any messagebus store:
    each transaction streams the messages it committed, once, when its block
    ends.
    """

    messages: ClassVar[list[Message[Any]]] = []

    async def _add(self, message: Message[Any]) -> None:
        self.messages.append(message)

    async def publish_eventstream(self) -> None:
        messages = self._take_committed()
        if self.publisher:
            for message in messages:
                await self.publisher.send_message(message)


class SyncInMemoryEventstoreRepository(
    _StreamBuffer, InMemoryRepository, SyncAbstractMessageStoreRepository
):
    """Sync twin of :class:`InMemoryEventstoreRepository`, with its own ``messages``."""

    messages: ClassVar[list[Message[Any]]] = []

    def _add(self, message: Message[Any]) -> None:
        self.messages.append(message)

    def publish_eventstream(self) -> None:
        messages = self._take_committed()
        if self.publisher:
            for message in messages:
                self.publisher.send_message(message)
