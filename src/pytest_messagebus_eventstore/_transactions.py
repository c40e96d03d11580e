"""Transactions over the class-level stores: read committed, any depth, any number at once.

A transaction belongs to the context it was begun in (an asyncio task, a
thread): :data:`current` holds the transactions open in each context, so that
two tasks each in their own ``async with uow`` never share one. Inside a
transaction, a store reads as a :class:`View`: each row is copied the first
time the transaction reads it (see :mod:`._copies`), and what the
transaction writes stays in the view. Nothing reaches the shared containers
until :meth:`Transaction.commit`, which first checks that no other
transaction committed a change to what this one changed, then applies its
changes. A rollback drops the views: it costs nothing, whatever the size of
the stores.

This module must not import messagebus: the plugin imports it at start-up.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, MutableMapping, MutableSequence, MutableSet
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, SupportsIndex, overload

from . import _copies
from ._copies import Copies

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ._stores import ClassLevelStore


class TransactionConflict(RuntimeError):
    """Two open transactions changed the same row: the second one to commit is refused.

    The in-memory stores let several transactions run at once, each on its own
    copies of the rows it reads. A commit that would overwrite what another
    transaction committed since this one read it raises this error, and the
    unit of work rolls back, as a database refuses a serialization failure.
    """


class NestedTransactionError(RuntimeError):
    """``async with uow`` inside ``async with uow`` on the same unit of work and task."""


# The transactions open in each context, innermost last.
current: ContextVar[tuple[Transaction, ...]] = ContextVar(
    "pytest_messagebus_eventstore_transactions", default=()
)
# Every open transaction, whatever its context: closed after each test.
open_transactions: list[Transaction] = []

_MISSING: Any = object()
_DELETED: Any = object()
_commits = itertools.count(1)
# The number of the last commit: a copy made after it has seen its writes.
_last_commit = 0
# The last commit that wrote each object in place: id -> (object, commit number).
# The entries keep the objects alive, so that an id is not reused meanwhile.
_written: dict[int, tuple[Any, int]] = {}


def forget_writes() -> None:
    """After a test: the objects its commits wrote need no conflict checks any more."""
    _written.clear()


def _describe_key(store: ClassLevelStore[Any], key: Any) -> str:
    return f"{store!s}[{key!r}]"


class Transaction:
    """What one transaction read and wrote; see the module docstring.

    It ends with :meth:`commit` or :meth:`rollback` (:attr:`is_open` is then
    false: the stores read as shared again), and leaves the running context
    with :meth:`close`. In between, the messages it committed wait there to be
    streamed, as messagebus streams them when the block closes.
    """

    __slots__ = ("closed", "copies", "is_open", "owner", "repositories", "streams", "views")

    def __init__(self, owner: Any = None, repositories: Iterable[Any] = ()) -> None:
        # The unit of work whose block this is, and its repositories: a store
        # read through one of them belongs to this transaction.
        self.owner = owner
        self.repositories = tuple(repositories)
        self.views: dict[ClassLevelStore[Any], View] = {}
        self.copies = Copies()
        # Messages added to each message store in this transaction, to stream
        # on commit; and those of its commits, until the block closes.
        self.streams: dict[Any, tuple[list[Any], list[Any]]] = {}
        self.is_open = True
        self.closed = False
        current.set((*current.get(), self))
        open_transactions.append(self)

    # -- reading -------------------------------------------------------------

    def view(self, store: ClassLevelStore[Any]) -> View:
        view = self.views.get(store)
        if view is None:
            container = store.container
            if isinstance(container, Mapping):
                view = MappingView(self, store)
            elif isinstance(container, MutableSequence):
                view = SequenceView(self, store)
            else:
                view = SetView(self, store)
            self.views[store] = view
        return view

    def private(self, obj: Any) -> Any:
        """This transaction's copy of a stored object, as it stands now."""
        return self.copies.private(obj)

    def stream(self, store: Any) -> tuple[list[Any], list[Any]]:
        """The (pending, committed) messages of ``store`` to stream, for this transaction."""
        buffers = self.streams.get(store)
        if buffers is None:
            buffers = self.streams[store] = ([], [])
        return buffers

    # -- ending --------------------------------------------------------------

    def commit(self) -> None:
        """Check for conflicts, then apply every change, and end."""
        global _last_commit
        if not self.is_open:
            return
        views, copies = self.views, self.copies
        changed = (
            [
                (obj, duplicate, stamp)
                for obj, duplicate, stamp, _ in [
                    entry for entry in copies.by_original.values() if copies.changed(entry)
                ]
            ]
            if copies.by_original
            else []
        )
        self._check(changed)
        for view in views.values():
            view.check()
        number = _last_commit = _copies.last_commit = next(_commits)
        for obj, duplicate, _ in changed:
            copies.write_back(obj, duplicate)
            _written[id(obj)] = (obj, number)
        for view in views.values():
            view.apply()
        for pending, committed in self.streams.values():
            committed += pending
            pending.clear()
        self._end()

    def _check(self, changed: list[tuple[Any, Any, int]]) -> None:
        for obj, _, stamp in changed:
            if written_since(obj, stamp):
                raise TransactionConflict(
                    f"cannot commit: {_where(self, obj)} was changed by another transaction "
                    "that committed after this one read it. The in-memory stores refuse a "
                    "change that would overwrite it; commit the first transaction before "
                    "the second reads the row, or retry the second."
                )

    def rollback(self) -> None:
        """Drop every change, and end; also the committed messages not streamed yet."""
        for pending, committed in self.streams.values():
            pending.clear()
            committed.clear()
        self._end()

    def _end(self) -> None:
        # The views and copies go with the transaction: nothing reads them now.
        self.is_open = False
        if self in open_transactions:
            open_transactions.remove(self)

    def close(self) -> None:
        """Drop what was not committed and leave the running context."""
        if self.is_open:
            self.rollback()
        self.streams.clear()
        self.closed = True
        stack = current.get()
        if self in stack:
            current.set(tuple(transaction for transaction in stack if transaction is not self))


def written_since(obj: Any, stamp: int) -> bool:
    """Whether a commit after ``stamp`` wrote ``obj`` in place."""
    written = _written.get(id(obj))
    return written is not None and written[0] is obj and written[1] > stamp


def _where(transaction: Transaction, obj: Any) -> str:
    """Where ``obj`` is stored, as the error message names it."""
    for store, view in transaction.views.items():
        for key, value in view.read_rows():
            if value is obj:
                return _describe_key(store, key)
    return f"a {type(obj).__name__} object held by the stores"


def transaction_for(instance: Any) -> Transaction | None:
    """The transaction a store read through ``instance`` (a repository) belongs to."""
    stack = current.get()
    if not stack:
        return None
    innermost = stack[-1]
    if len(stack) == 1 and innermost.is_open:
        return innermost
    # A task started inside a block inherits its context: skip what closed since.
    opened = [transaction for transaction in stack if transaction.is_open]
    if instance is not None:
        for transaction in reversed(opened):
            if any(repository is instance for repository in transaction.repositories):
                return transaction
    return opened[-1] if opened else None


def close_all() -> None:
    """After a test: roll back the transactions it left open, wherever they run."""
    for transaction in list(open_transactions):
        transaction.close()
    open_transactions.clear()
    current.set(())


class View:
    """One store, as one transaction sees it."""

    __slots__ = ("_store", "_transaction")

    def __init__(self, transaction: Transaction, store: ClassLevelStore[Any]) -> None:
        self._transaction = transaction
        self._store = store

    def read_rows(self) -> Iterator[tuple[Any, Any]]:
        """(key, original) of the rows the transaction read."""
        return iter(())

    def check(self) -> None:
        """Raise TransactionConflict if the changes cannot be applied."""

    def apply(self) -> None:
        """Apply the changes to the shared container."""

    def __repr__(self) -> str:
        return repr(self._materialize())

    def _materialize(self) -> Any:
        raise NotImplementedError

    def __copy__(self) -> Any:
        return self._materialize()

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        import copy

        return copy.deepcopy(self._materialize(), memo)

    def __reduce__(self) -> Any:
        return (type(self._materialize()), (self._materialize(),))


class MappingView(View, MutableMapping[Any, Any]):
    """A dict-like store: rows copied by key on first read; writes kept by key."""

    __slots__ = ("_base", "_local", "_stamp")

    def __init__(self, transaction: Transaction, store: ClassLevelStore[Any]) -> None:
        super().__init__(transaction, store)
        # key -> this transaction's value (a copy, a new value, or _DELETED),
        # and key -> the shared value when the transaction first touched it.
        self._local: dict[Any, Any] = {}
        self._base: dict[Any, Any] = {}
        self._stamp = _last_commit

    def __getitem__(self, key: Any) -> Any:
        local = self._local
        if key in local:
            value = local[key]
            if value is _DELETED:
                raise KeyError(key)
            return value
        shared = self._store.container
        if key not in shared:
            factory = getattr(shared, "default_factory", None)
            if factory is None:
                return shared[key]  # KeyError, or what the mapping's __missing__ says
            value = factory()
            self._base[key] = _MISSING
            local[key] = value
            return value
        original = shared[key]
        value = local[key] = self._transaction.private(original)
        self._base[key] = original
        return value

    def __setitem__(self, key: Any, value: Any) -> None:
        if key not in self._base:
            self._base[key] = self._store.container.get(key, _MISSING)
        self._local[key] = value

    def __delitem__(self, key: Any) -> None:
        if key not in self:
            raise KeyError(key)
        if key not in self._base:
            self._base[key] = self._store.container[key]
        self._local[key] = _DELETED

    def __contains__(self, key: object) -> bool:
        local = self._local
        if key in local:
            return local[key] is not _DELETED
        return key in self._store.container

    def __iter__(self) -> Iterator[Any]:
        local = self._local
        shared = self._store.container
        for key in list(shared):
            if local.get(key) is not _DELETED:
                yield key
        for key, value in list(local.items()):
            if value is not _DELETED and key not in shared:
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def clear(self) -> None:
        for key in list(self):
            del self[key]

    def copy(self) -> dict[Any, Any]:
        return dict(self.items())

    def _materialize(self) -> Any:
        return dict(self.items())

    def __or__(self, other: Any) -> dict[Any, Any]:
        return {**self, **other}

    def read_rows(self) -> Iterator[tuple[Any, Any]]:
        for key, original in self._base.items():
            yield key, original
            value = self._local.get(key)
            if value is not None and value is not _DELETED:
                yield key, self._transaction.copies.original(value)

    def _written_keys(self) -> Iterator[Any]:
        """Keys whose row the transaction set, deleted or changed in its copy."""
        copies = self._transaction.copies
        by_original = copies.by_original
        for key, value in self._local.items():
            base = self._base[key]
            entry = by_original.get(id(base))
            if entry is not None and entry[0] is base and entry[1] is value:
                # Only read, or changed in place: the object's own write back does it.
                continue
            yield key

    def check(self) -> None:
        shared = self._store.container
        for key in self._written_keys():
            base = self._base[key]
            if shared.get(key, _MISSING) is not base or written_since(base, self._stamp):
                raise TransactionConflict(
                    f"cannot commit: {_describe_key(self._store, key)} was changed by another "
                    "transaction that committed after this one first read or wrote it. The "
                    "in-memory stores refuse a change that would overwrite it; commit the "
                    "first transaction before the second touches the row, or retry the second."
                )

    def apply(self) -> None:
        shared = self._store.container
        original = self._transaction.copies.original
        for key in list(self._written_keys()):
            value = self._local[key]
            if value is _DELETED:
                shared.pop(key, None)
            else:
                shared[key] = original(value)


class SequenceView(View, MutableSequence[Any]):
    """A list-like store, rows copied as they are read.

    While the transaction only appends, it reads the shared list as it is now
    (read committed: what others commit meanwhile shows), followed by what it
    appended; its appends merge with anyone's on commit. Once it changes the
    list otherwise (removes, replaces, inserts, sorts), the list as it was
    then, with its changes, is its own.
    """

    __slots__ = ("_added", "_base", "_base_ids", "_items")

    def __init__(self, transaction: Transaction, store: ClassLevelStore[Any]) -> None:
        super().__init__(transaction, store)
        self._added: list[Any] = []
        # Once the transaction changed more than the end: its own list, the
        # shared one as it was then, and the shared rows in it not copied yet
        # (by identity: ``_base`` keeps them alive).
        self._items: list[Any] | None = None
        self._base: list[Any] = []
        self._base_ids: set[int] = set()

    def _own(self) -> list[Any]:
        items = self._items
        if items is None:
            self._base = list(self._store.container)
            self._base_ids = {id(item) for item in self._base}
            items = self._items = [*self._base, *self._added]
            self._added = []
        return items

    def _row(self, index: int) -> Any:
        items = self._items
        if items is None:
            shared = self._store.container
            if index < len(shared):
                return self._transaction.private(shared[index])
            return self._added[index - len(shared)]
        item = items[index]
        if id(item) in self._base_ids:
            item = items[index] = self._transaction.private(item)
        return item

    @overload
    def __getitem__(self, index: SupportsIndex) -> Any: ...
    @overload
    def __getitem__(self, index: slice) -> list[Any]: ...
    def __getitem__(self, index: SupportsIndex | slice) -> Any:
        positions = range(len(self))
        if isinstance(index, slice):
            return [self._row(position) for position in positions[index]]
        return self._row(positions[index])

    def __setitem__(self, index: Any, value: Any) -> None:
        self._own()[index] = value

    def __delitem__(self, index: Any) -> None:
        del self._own()[index]

    def __len__(self) -> int:
        if self._items is None:
            return len(self._store.container) + len(self._added)
        return len(self._items)

    def __iter__(self) -> Iterator[Any]:
        for position in range(len(self)):
            yield self._row(position)

    def __contains__(self, value: object) -> bool:
        return any(item is value or item == value for item in self)

    def insert(self, index: int, value: Any) -> None:
        if self._items is None and index >= len(self):
            self._added.append(value)
        else:
            self._own().insert(index, value)

    def append(self, value: Any) -> None:
        if self._items is None:
            self._added.append(value)
        else:
            self._items.append(value)

    def extend(self, values: Iterable[Any]) -> None:
        for value in list(values):
            self.append(value)

    def clear(self) -> None:
        self._own().clear()

    def sort(self, **kwargs: Any) -> None:
        items = list(self)
        items.sort(**kwargs)
        self._own()[:] = items

    def reverse(self) -> None:
        self._own().reverse()

    def pop(self, index: int = -1) -> Any:
        item = self[index]
        del self[index]
        return item

    def copy(self) -> list[Any]:
        return list(self)

    def _materialize(self) -> Any:
        return list(self)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (list, tuple, SequenceView)):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __add__(self, other: Iterable[Any]) -> list[Any]:
        return [*self, *other]

    def read_rows(self) -> Iterator[tuple[Any, Any]]:
        yield from enumerate(self._base if self._items is not None else self._store.container)

    def _merge(self, shared: list[Any]) -> list[Any] | None:
        """The shared list with this transaction's changes, or None if they conflict."""
        assert self._items is not None
        original = self._transaction.copies.original
        final, base = [original(item) for item in self._items], self._base
        if len(shared) == len(base) and all(a is b for a, b in zip(shared, base, strict=False)):
            return final
        # Others committed meanwhile: merge removals and appends, refuse the rest.
        base_ids = {id(item) for item in base}
        kept = [id(item) for item in final if id(item) in base_ids]
        added = [item for item in final if id(item) not in base_ids]
        if [id(item) for item in final] != [*kept, *(id(item) for item in added)]:
            return None  # a row inserted before the end
        kept_ids = set(kept)
        if kept != [id(item) for item in base if id(item) in kept_ids]:
            return None  # rows reordered
        removed = base_ids - kept_ids
        return [item for item in shared if id(item) not in removed] + added

    def check(self) -> None:
        if self._items is not None and self._merge(list(self._store.container)) is None:
            raise TransactionConflict(
                f"cannot commit: {self._store} was reordered by this transaction while "
                "another one committed changes to it. The in-memory stores merge appends "
                "and removals only; commit the first transaction before the second "
                "touches the list, or retry the second."
            )

    def apply(self) -> None:
        container = self._store.container
        original = self._transaction.copies.original
        if self._items is None:
            if self._added:
                container.extend([original(item) for item in self._added])
            return
        merged = self._merge(list(container))
        assert merged is not None  # checked
        if isinstance(container, list):
            container[:] = merged
        else:
            container.clear()
            container.extend(merged)


class SetView(View, MutableSet[Any]):
    """A set-like store: members are values; additions and removals merge with others'."""

    __slots__ = ("_added", "_removed")

    def __init__(self, transaction: Transaction, store: ClassLevelStore[Any]) -> None:
        super().__init__(transaction, store)
        self._added: set[Any] = set()
        self._removed: set[Any] = set()

    def __contains__(self, value: object) -> bool:
        if value in self._added:
            return True
        return value not in self._removed and value in self._store.container

    def __iter__(self) -> Iterator[Any]:
        removed, added = self._removed, self._added
        for item in list(self._store.container):
            if item not in removed and item not in added:
                yield item
        yield from list(added)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def add(self, value: Any) -> None:
        self._removed.discard(value)
        if value not in self._store.container:
            self._added.add(value)

    def discard(self, value: Any) -> None:
        self._added.discard(value)
        if value in self._store.container:
            self._removed.add(value)

    def copy(self) -> set[Any]:
        return set(self)

    def _materialize(self) -> Any:
        return set(self)

    def apply(self) -> None:
        container = self._store.container
        for item in self._removed:
            container.discard(item)
        for item in self._added:
            container.add(item)
