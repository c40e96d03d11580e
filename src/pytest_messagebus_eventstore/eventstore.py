"""In-memory message stores: every message the bus handles, in order."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from messagebus import AsyncEventstreamPublisher, Message, SyncEventstreamPublisher

from . import _recorder
from ._compat import (
    STORE_ATTRIBUTE,
    AsyncAbstractMessageStoreRepository,
    SyncAbstractMessageStoreRepository,
)
from ._copies import share_as_values
from ._transactions import SequenceView, Transaction, current
from .repository import InMemoryRepository
from .transport import InMemoryEventstreamTransport as _Transport
from .transport import SyncInMemoryEventstreamTransport as _SyncTransport

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


class _ProjectRollback:
    """The messages a project's own unit of work added to an in-memory store, in one transaction.

    Only an ``InMemoryUnitOfWork`` makes the store transactional; under any
    other unit of work the messages go straight into the store. Listening to
    messagebus's transaction, this takes them out again if it rolls back, as
    the project's database would.
    """

    __slots__ = ("messages", "store", "transaction")

    def __init__(self, store: Any, transaction: Any) -> None:
        self.store = store
        self.transaction = transaction
        self.messages: list[Message[Any]] = []

    def _forget(self) -> None:
        self.store._project_rollbacks.pop(self.transaction, None)

    def committed(self) -> None:
        self._forget()
        # A rollback after the commit calls the listener too: what was
        # committed stays.
        self.messages.clear()

    def rolled_back(self) -> None:
        self._forget()
        # By identity: equal messages may have been added by other transactions.
        # ``self.messages`` keeps these alive until then.
        dropped = {id(message) for message in self.messages}
        store = self.store
        for messages in (store.messages, store._own_stream_buffer):
            messages[:] = [message for message in messages if id(message) not in dropped]


class _AsyncProjectRollback(_ProjectRollback):
    __slots__ = ()

    async def on_after_commit(self) -> None:
        self.committed()

    async def on_after_rollback(self) -> None:
        self.rolled_back()


class _SyncProjectRollback(_ProjectRollback):
    __slots__ = ()

    def on_after_commit(self) -> None:
        self.committed()

    def on_after_rollback(self) -> None:
        self.rolled_back()


def _added_outside(
    store: InMemoryEventstoreRepository | SyncInMemoryEventstoreRepository,
    message: Message[Any],
) -> None:
    """``message`` went into the shared messages: taken out if its transaction rolls back."""
    for transaction in reversed(_recorder._transactions.get()):
        if getattr(transaction.uow, STORE_ATTRIBUTE, None) is not store:
            continue
        # Once committed, what the block adds is stored at once.
        if transaction.status.name not in _recorder.UNFINISHED:
            return
        rollbacks: dict[Any, _ProjectRollback] = store.__dict__.setdefault("_project_rollbacks", {})
        rollback = rollbacks.get(transaction)
        if rollback is None:
            rollback = rollbacks[transaction] = store._project_rollback(store, transaction)
            transaction.add_listener(rollback)
        rollback.messages.append(message)
        return


class InMemoryEventstoreRepository(
    _StreamBuffer, InMemoryRepository, AsyncAbstractMessageStoreRepository
):
    """Async message store keeping every added message in :attr:`messages`.

    ``messages`` is a class attribute, shared by every instance as the rows of
    a table are; the plugin empties it after each test. Pass ``publisher=`` to
    stream the published messages on commit, as with any messagebus store:
    each transaction streams the messages it committed, once, when its block
    ends. A transaction that rolls back leaves nothing in it, under an
    ``InMemoryUnitOfWork`` or a project's own unit of work.
    """

    messages: ClassVar[list[Message[Any]]] = []
    _project_rollback = _AsyncProjectRollback

    async def _add(self, message: Message[Any]) -> None:
        messages: MutableSequence[Message[Any]] = self.messages
        messages.append(message)
        # In a transaction of ours, it commits or drops the message itself.
        if type(messages) is not SequenceView:
            _added_outside(self, message)

    async def publish_eventstream(self) -> None:
        messages = self._take_committed()
        publisher = self.publisher
        if not publisher:
            return
        transport = publisher.transport
        if type(publisher) is AsyncEventstreamPublisher and type(transport) is _Transport:
            # What messagebus's send_message does, without three coroutines
            # per message: the publishing of most tests.
            serializer = publisher.serializer
            for message in messages:
                if message.metadata.published:
                    transport._record(serializer.serialize_message(message), (message, serializer))
            return
        for message in messages:
            await publisher.send_message(message)


class SyncInMemoryEventstoreRepository(
    _StreamBuffer, InMemoryRepository, SyncAbstractMessageStoreRepository
):
    """Sync twin of :class:`InMemoryEventstoreRepository`, with its own ``messages``."""

    messages: ClassVar[list[Message[Any]]] = []
    _project_rollback = _SyncProjectRollback

    def _add(self, message: Message[Any]) -> None:
        messages: MutableSequence[Message[Any]] = self.messages
        messages.append(message)
        if type(messages) is not SequenceView:
            _added_outside(self, message)

    def publish_eventstream(self) -> None:
        messages = self._take_committed()
        publisher = self.publisher
        if not publisher:
            return
        transport = publisher.transport
        if type(publisher) is SyncEventstreamPublisher and type(transport) is _SyncTransport:
            serializer = publisher.serializer
            for message in messages:
                if message.metadata.published:
                    transport._record(serializer.serialize_message(message), (message, serializer))
            return
        for message in messages:
            publisher.send_message(message)
