"""In-memory units of work whose repositories are keyword arguments."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator, MutableSequence
from typing import TYPE_CHECKING, Any, ClassVar, cast

from messagebus import (
    AsyncAbstractRepository,
    AsyncAbstractUnitOfWork,
    AsyncUnitOfWorkTransaction,
    SyncAbstractRepository,
    SyncAbstractUnitOfWork,
    SyncUnitOfWorkTransaction,
)

from ._compat import (
    STORE_ATTRIBUTE,
    AsyncAbstractMessageStoreRepository,
    SyncAbstractMessageStoreRepository,
)
from ._transactions import NestedTransactionError, Transaction, current
from .eventstore import InMemoryEventstoreRepository, SyncInMemoryEventstoreRepository

if TYPE_CHECKING:
    from types import TracebackType

# Not imported with this module: it does not import on messagebus 0.12 and 0.13.
# The types known to be metrics stores: isinstance against an abstract class is a Python call.
_METRICS_STORE_TYPES: set[type] = set()


class _Block(Transaction):
    """One ``async with uow`` block: its transaction, messagebus's, and the models seen."""

    __slots__ = ("messagebus_transaction", "seen")

    def __init__(self, uow: Any, repositories: list[Any]) -> None:
        super().__init__(uow, repositories)
        self.messagebus_transaction: Any = None
        self.seen: list[tuple[MutableSequence[Any], list[Any]]] = []
        self.keep_seen()

    def keep_seen(self) -> None:
        """What the repositories' ``seen`` hold now is what a rollback goes back to."""
        self.seen = [(repo.seen, list(repo.seen)) for repo in self.repositories]

    def drop_seen(self) -> None:
        for seen, saved in self.seen:
            if not seen and not saved:
                continue
            kept = {id(model) for model in saved}
            for model in seen:
                # A model that entered ``seen`` in this transaction carries
                # messages that were never handled: drop them with it.
                messages = getattr(model, "messages", None)
                if id(model) not in kept and isinstance(messages, MutableSequence):
                    messages.clear()
            seen[:] = saved

    def commit(self) -> None:
        super().commit()
        self.keep_seen()

    def rollback(self) -> None:
        if self.is_open:
            self.drop_seen()
        super().rollback()


class _InMemoryUnitOfWorkBase:
    """Constructor, store aliases and snapshots shared by both flavours."""

    _flavour: str
    _other_flavour: str
    _repository_base: type
    _other_repository_base: type
    _other_uow_name: str
    _store_base: type
    _default_store: Callable[[], Any]
    # Whether instances of a type are repositories of this flavour, by type.
    _repository_types: ClassVar[dict[type, bool]]
    # The message store, under both its names (see _store_alias).
    eventstore: Any
    messagestore: Any

    def __init__(
        self,
        eventstore: Any | None = None,
        *,
        messagestore: Any | None = None,
        metrics_store: Any | None = None,
        **repositories: Any,
    ) -> None:
        if eventstore is not None and messagestore is not None:
            self._refuse_store("messagestore", messagestore)
            self._refuse_store("eventstore", eventstore)
            raise TypeError(
                f"{type(self).__name__}() got both eventstore= and messagestore=; they are "
                "the same store under its messagebus 0.12 and 0.13+ names, pass one."
            )
        store = eventstore if eventstore is not None else messagestore
        if store is None:
            store = self._default_store()
        elif not isinstance(store, self._store_base):
            self._refuse_store("eventstore" if eventstore is not None else "messagestore", store)
            raise TypeError(
                f"{type(self).__name__}(eventstore=...) expects {_ARTICLE[self._flavour]} message "
                f"store (an instance of {self._store_base.__name__}), got {_describe(store)}."
            )
        # messagebus reads the store several times per message: a plain
        # attribute under its name, an alias (property) under the other.
        self.__dict__[STORE_ATTRIBUTE] = store
        if metrics_store is not None:
            # The fixtures give one per test: a type's answer is kept.
            if type(metrics_store) not in _METRICS_STORE_TYPES:
                self._check_metrics_store(metrics_store)
            self.__dict__["metrics_store"] = metrics_store
        for name, repository in repositories.items():
            self._check_repository(name, repository)
            setattr(self, name, repository)

    def _check_metrics_store(self, given: Any) -> None:
        # Here: the units of work of most tests keep messagebus's store.
        from ._metrics import METRICS_STORE_BASE, NEEDS_0_14

        cls_name = type(self).__name__
        if METRICS_STORE_BASE is None:
            raise TypeError(f"{cls_name}(metrics_store=...): {NEEDS_0_14}.")
        if isinstance(given, METRICS_STORE_BASE):
            if given.__class__ is type(given):
                _METRICS_STORE_TYPES.add(type(given))
            return
        if isinstance(given, (self._repository_base, self._other_repository_base)):
            raise TypeError(
                f"{cls_name}(metrics_store=...) got the repository {type(given).__name__}: "
                "metrics_store is reserved for the metrics store; give the repository "
                "another name."
            )
        hint = ""
        if isinstance(given, type) and issubclass(given, METRICS_STORE_BASE):
            hint = f" Pass an instance: metrics_store={given.__name__}()."
        raise TypeError(
            f"{cls_name}(metrics_store=...) expects a metrics store (an instance of "
            f"messagebus's AbstractMetricsStore), got {_describe(given)}.{hint}"
        )

    def _refuse_store(self, name: str, given: Any) -> None:
        """A repository passed under a name of the message store is refused as such."""
        if isinstance(given, (self._repository_base, self._other_repository_base)):
            raise TypeError(
                f"{type(self).__name__}({name}=...) got the repository "
                f"{type(given).__name__}: {name} is reserved for the message store; "
                "give the repository another name."
            )

    def _check_repository(self, name: str, repository: Any) -> None:
        cls_name = type(self).__name__
        if name.startswith("_"):
            raise TypeError(
                f"{cls_name}({name}=...): a repository name must not start with "
                "an underscore; those names belong to the unit of work."
            )
        if hasattr(type(self), name):
            raise TypeError(
                f"{cls_name}({name}=...) clashes with {cls_name}.{name}; give the "
                "repository another name."
            )
        if self._is_repository(repository):
            return
        if isinstance(repository, self._other_repository_base):
            raise TypeError(
                f"{cls_name}({name}=...) got a {self._other_flavour} repository "
                f"({type(repository).__name__} is a subclass of "
                f"{self._other_repository_base.__name__}); use "
                f"{self._other_uow_name} for {self._other_flavour} repositories."
            )
        hint = ""
        if isinstance(repository, type):
            hint = f" Pass an instance: {name}={repository.__name__}()."
        raise TypeError(
            f"{cls_name}({name}=...) expects a repository (an instance of "
            f"{self._repository_base.__name__}), got {_describe(repository)}.{hint}"
        )

    def _is_repository(self, member: Any) -> bool:
        # isinstance against an abstract class is a Python call; messagebus
        # asks it of every attribute after every message, so a type's answer
        # is kept (unless the object claims another class than its type).
        kind = type(member)
        found = self._repository_types.get(kind)
        if found is None:
            found = isinstance(member, self._repository_base)
            if member.__class__ is kind:
                self._repository_types[kind] = found
        return found

    def _iter_repositories(self) -> Iterator[Any]:
        """The repositories among the attributes, as messagebus finds them."""
        known = self._repository_types
        for member in list(self.__dict__.values()):
            found = known.get(type(member))
            if found or (found is None and self._is_repository(member)):
                yield member

    def _block(self) -> _Block | None:
        """The block of this unit of work open in the running task, innermost."""
        stack = current.get()
        if not stack:
            return None
        last = stack[-1]
        if last.owner is self and not last.closed:
            return last  # type: ignore[return-value]
        for block in reversed(stack):
            if block.owner is self and not block.closed:
                return block  # type: ignore[return-value]
        return None

    def _begin(self, make_transaction: Callable[[Any], Any]) -> Any:
        if current.get() and self._block() is not None:
            name = type(self).__name__
            raise NestedTransactionError(
                f"{name}: a transaction of this unit of work is already open in this task; "
                f"a {name} block inside another on the same unit of work would commit or "
                "roll back nothing of its own. End the outer transaction first, or give the "
                "inner block a unit of work of its own."
            )
        block = _Block(self, list(self._iter_repositories()))
        # Kept by the block, not by the unit of work as messagebus does: two
        # tasks may each have a block of this unit of work open.
        block.messagebus_transaction = transaction = make_transaction(self)
        return transaction

    def _end(self, block: _Block | None) -> None:
        """The block ends: what it did not commit is dropped."""
        if block is None or _streaming(block.messagebus_transaction):
            # Detached for a streaming response: open until its close().
            return
        block.close()

    def _finish(self, *, keep: bool) -> None:
        # After it, the rest of the block reads and writes the shared stores,
        # as the dependencies' on_after_commit hooks do.
        block = self._block()
        if block is None:
            return
        if keep:
            block.commit()
        else:
            block.rollback()
            if _streaming(block.messagebus_transaction):
                # messagebus's close() of a detached transaction: it ends here.
                block.close()


# messagebus's status of a detached transaction, of each flavour (messagebus
# 0.12 has an enum per flavour).
_STREAMING: tuple[Any, ...] = tuple(
    type(flavour(cast("Any", None)).status).streaming
    for flavour in (AsyncUnitOfWorkTransaction, SyncUnitOfWorkTransaction)
)


def _streaming(transaction: Any) -> bool:
    status = transaction.status
    return status is _STREAMING[0] or status is _STREAMING[1]


def _store_alias(name: str) -> property:
    def get(uow: Any) -> Any:
        return getattr(uow, STORE_ATTRIBUTE)

    def set_(uow: Any, store: Any) -> None:
        setattr(uow, STORE_ATTRIBUTE, store)

    return property(get, set_, doc=f"The message store, under its name in messagebus {name}.")


# The store's name in the other messagebus versions: eventstore (0.12) or messagestore (0.13+).
if STORE_ATTRIBUTE == "messagestore":
    _InMemoryUnitOfWorkBase.eventstore = _store_alias("0.12")
else:
    _InMemoryUnitOfWorkBase.messagestore = _store_alias("0.13+")


_ARTICLE = {"async": "an async", "sync": "a sync"}


def _describe(value: Any) -> str:
    if isinstance(value, type):
        return f"the class {value.__name__}"
    if type(value).__module__ == "builtins":
        return f"{type(value).__name__} {value!r}"
    return type(value).__name__


class InMemoryUnitOfWork(_InMemoryUnitOfWorkBase, AsyncAbstractUnitOfWork):  # type: ignore[type-arg]
    """Async unit of work over in-memory repositories.

    ``InMemoryUnitOfWork(eventstore=store, books=FakeBookRepository())`` exposes
    ``uow.books``; the store is ``uow.eventstore`` and ``uow.messagestore``.
    Without a store, a fresh :class:`InMemoryEventstoreRepository` without
    publisher is used. Each ``async with uow`` block is a transaction of the
    running task over the repositories' class-level stores (read committed):
    ``commit()`` applies what it wrote; ``rollback()`` (explicit, or when the
    block raises or ends without either) drops it, with the models the
    repositories saw and the messages to stream. On messagebus 0.14 and
    later, ``metrics_store=`` is the store messagebus counts transactions and
    messages into (an :class:`InMemoryMetricsStore`, say); without it, the unit
    of work keeps messagebus's own.
    """

    _flavour = "async"
    _other_flavour = "sync"
    _repository_base = AsyncAbstractRepository
    _repository_types: ClassVar[dict[type, bool]] = {}
    _other_repository_base = SyncAbstractRepository
    _other_uow_name = "SyncInMemoryUnitOfWork"
    _store_base = AsyncAbstractMessageStoreRepository
    _default_store = InMemoryEventstoreRepository

    # Not a coroutine function: messagebus's own coroutine is handed back to
    # ``async with``, at the cost of no coroutine of its own.
    def __aenter__(self) -> Coroutine[Any, Any, Any]:
        transaction = self._begin(AsyncUnitOfWorkTransaction)
        return transaction.__aenter__()  # type: ignore[no-any-return]

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        block = self._block()
        try:
            if block is not None:
                await block.messagebus_transaction.__aexit__(exc_type, exc, tb)
        finally:
            # Also when messagebus refuses a block left without commit() or
            # rollback(): a database drops what it wrote, so do we.
            self._end(block)

    async def commit(self) -> None:
        self._finish(keep=True)

    async def rollback(self) -> None:
        self._finish(keep=False)


class SyncInMemoryUnitOfWork(_InMemoryUnitOfWorkBase, SyncAbstractUnitOfWork):  # type: ignore[type-arg]
    """Sync twin of :class:`InMemoryUnitOfWork`, over sync repositories."""

    _flavour = "sync"
    _other_flavour = "async"
    _repository_base = SyncAbstractRepository
    _repository_types: ClassVar[dict[type, bool]] = {}
    _other_repository_base = AsyncAbstractRepository
    _other_uow_name = "InMemoryUnitOfWork"
    _store_base = SyncAbstractMessageStoreRepository
    _default_store = SyncInMemoryEventstoreRepository

    def __enter__(self) -> Any:
        return self._begin(SyncUnitOfWorkTransaction).__enter__()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        block = self._block()
        try:
            if block is not None:
                block.messagebus_transaction.__exit__(exc_type, exc, tb)
        finally:
            self._end(block)

    def commit(self) -> None:
        self._finish(keep=True)

    def rollback(self) -> None:
        self._finish(keep=False)
