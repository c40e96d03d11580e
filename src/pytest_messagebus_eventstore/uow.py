"""In-memory units of work whose repositories are keyword arguments."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator, MutableSequence
from typing import TYPE_CHECKING, Any, ClassVar

from messagebus import (
    AsyncAbstractRepository,
    AsyncAbstractUnitOfWork,
    SyncAbstractRepository,
    SyncAbstractUnitOfWork,
)

from ._compat import (
    STORE_ATTRIBUTE,
    AsyncAbstractMessageStoreRepository,
    SyncAbstractMessageStoreRepository,
)
from ._stores import ObjectState, StoreTransaction, restore_objects, snapshot_objects
from .eventstore import InMemoryEventstoreRepository, SyncInMemoryEventstoreRepository

if TYPE_CHECKING:
    from types import TracebackType


class _TransactionSnapshot(StoreTransaction):
    """What a rollback puts back: class-level stores, pending models, stream buffer."""

    __slots__ = ("_seen", "_store", "_stream_buffer")

    def __init__(self, store: Any, repositories: Iterator[Any]) -> None:
        super().__init__()
        self._store = store
        self._stream_buffer = list(getattr(store, "stream_buffer", ()))
        self._seen: list[tuple[MutableSequence[Any], list[Any], list[ObjectState]]] = [
            (repo.seen, list(repo.seen), snapshot_objects(repo.seen) if repo.seen else [])
            for repo in repositories
        ]

    def rollback(self) -> None:
        super().rollback()
        for seen, saved, states in self._seen:
            kept = {id(model) for model in saved}
            for model in seen:
                # A model that entered ``seen`` in this transaction carries
                # messages that were never handled: drop them with it.
                messages = getattr(model, "messages", None)
                if id(model) not in kept and isinstance(messages, MutableSequence):
                    messages.clear()
            seen[:] = saved
            restore_objects(states)
        if isinstance(getattr(self._store, "stream_buffer", None), MutableSequence):
            self._store.stream_buffer[:] = self._stream_buffer


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
        **repositories: Any,
    ) -> None:
        cls_name = type(self).__name__
        if eventstore is not None and messagestore is not None:
            raise TypeError(
                f"{cls_name}() got both eventstore= and messagestore=; they are "
                "the same store under its messagebus 0.12 and 0.13+ names, pass one."
            )
        store = eventstore if eventstore is not None else messagestore
        if store is None:
            store = self._default_store()
        elif not isinstance(store, self._store_base):
            raise TypeError(
                f"{cls_name}(eventstore=...) expects a {self._flavour} message store "
                f"(an instance of {self._store_base.__name__}), got {_describe(store)}."
            )
        # messagebus reads the store several times per message: a plain
        # attribute under its name, an alias (property) under the other.
        self.__dict__[STORE_ATTRIBUTE] = store
        self._transaction: _TransactionSnapshot | None = None
        for name, repository in repositories.items():
            self._check_repository(name, repository)
            setattr(self, name, repository)

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

    def _begin(self) -> None:
        if self._transaction is not None:
            self._transaction.commit()
        self._transaction = _TransactionSnapshot(
            self.__dict__[STORE_ATTRIBUTE], self._iter_repositories()
        )

    def _finish(self, *, keep: bool) -> None:
        transaction, self._transaction = self._transaction, None
        if transaction is None:
            return
        if keep:
            transaction.commit()
        else:
            transaction.rollback()


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
    publisher is used. ``commit()`` keeps what the transaction wrote;
    ``rollback()`` (explicit, or when the ``async with`` block raises) restores
    the class-level stores, the repositories' pending models and the store's
    stream buffer to their state when the transaction began.
    """

    _flavour = "async"
    _other_flavour = "sync"
    _repository_base = AsyncAbstractRepository
    _repository_types: ClassVar[dict[type, bool]] = {}
    _other_repository_base = SyncAbstractRepository
    _other_uow_name = "SyncInMemoryUnitOfWork"
    _store_base = AsyncAbstractMessageStoreRepository
    _default_store = InMemoryEventstoreRepository

    # Not a coroutine function: after the snapshot, messagebus's own coroutine
    # is handed back to ``async with``, at the cost of no coroutine of its own.
    def __aenter__(self) -> Coroutine[Any, Any, Any]:
        self._begin()
        return super().__aenter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await super().__aexit__(exc_type, exc, tb)
        except BaseException:
            # messagebus refuses a block left without commit() or rollback();
            # a database would drop what it wrote, so do we.
            self._finish(keep=False)
            raise

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
        self._begin()
        return super().__enter__()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            super().__exit__(exc_type, exc, tb)
        except BaseException:
            self._finish(keep=False)
            raise

    def commit(self) -> None:
        self._finish(keep=True)

    def rollback(self) -> None:
        self._finish(keep=False)
