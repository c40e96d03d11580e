"""Class-level stores: registration, per-test reset and transaction snapshots.

In-memory fakes keep their rows in class attributes (``books: ClassVar[dict] = {}``)
so that every instance of a repository sees the same data, as every connection
to a database does. This module finds those containers when a class is defined,
puts them back after each test, and restores them when a transaction rolls back.

The registry lives at module level, not in ``config.stash``: classes are defined
at import time, before and independently of any pytest session.

This module must not import messagebus, so that the plugin costs nothing at
start-up for a project that never uses it.
"""

from __future__ import annotations

import copy
import gc
import weakref
from collections.abc import Collection, MutableMapping, MutableSequence, MutableSet
from typing import Any, Generic, TypeVar, overload

_T = TypeVar("_T")

_MUTABLE_CONTAINERS = (MutableMapping, MutableSequence, MutableSet)
# Fields of a stored object that are copied one level deep by a snapshot, so
# that ``book.reviews.append(review)`` is undone by a rollback too.
_NESTED_CONTAINER_TYPES = frozenset({list, dict, set})

# Weak references, so that classes a test defines can go; a plain list, as
# iterating a WeakSet after every test costs several times more.
_stores: list[weakref.ref[ClassLevelStore[Any]]] = []
_open_transactions: list[StoreTransaction] = []


def _restore_container(container: Any, saved: Any) -> None:
    """Put ``saved`` back into ``container`` in place, keeping its identity."""
    # Builtin containers first: a rollback restores every field of every
    # object a store holds, and ABC isinstance checks would dominate its cost.
    kind = type(container)
    if kind is list:
        container[:] = saved
        return
    container.clear()
    if kind is dict or kind is set:
        container.update(saved)
        return
    if isinstance(container, MutableMapping):
        container.update(saved)
    elif isinstance(container, MutableSequence):
        container.extend(saved)
    else:
        container |= saved


def _copy_container(container: Any) -> Any:
    if type(container) in _NESTED_CONTAINER_TYPES:
        return container.copy()
    if isinstance(container, MutableMapping):
        return dict(container)
    if isinstance(container, MutableSequence):
        return list(container)
    return set(container)


ObjectState = tuple[Any, dict[str, Any], list[tuple[Any, Any]]]


# Below this many objects, holding the collector costs more than it saves.
_GC_PAUSE_MIN_OBJECTS = 256


def _pause_gc(size: int) -> bool:
    """Hold the cyclic garbage collector while copying or restoring many objects.

    A snapshot allocates a few containers per stored object and no cycle; left
    on, the collector would walk the whole heap again and again while they pile
    up (several times the cost of the copies themselves at 100k objects).
    True if it was held: the caller then enables it again.
    """
    if size < _GC_PAUSE_MIN_OBJECTS or not gc.isenabled():
        return False
    gc.disable()
    return True


def snapshot_objects(items: Collection[Any]) -> list[ObjectState]:
    """The fields of every stored object, so that in-place changes can be undone."""
    states: list[ObjectState] = []
    paused = _pause_gc(len(items))
    try:
        for item in items:
            fields = getattr(item, "__dict__", None)
            if fields is None:
                continue
            # An empty container (as ``messages`` mostly is) is saved as None.
            nested = [
                (value, value.copy() if value else None)
                for value in fields.values()
                if type(value) in _NESTED_CONTAINER_TYPES
            ]
            states.append((item, fields.copy(), nested))
    finally:
        if paused:
            gc.enable()
    return states


def restore_objects(states: list[ObjectState]) -> None:
    paused = _pause_gc(len(states))
    try:
        for item, fields, nested in states:
            item.__dict__.clear()
            item.__dict__.update(fields)
            for container, saved in nested:
                if saved is None:
                    container.clear()
                else:
                    _restore_container(container, saved)
    finally:
        if paused:
            gc.enable()


class _StoreSnapshot:
    __slots__ = ("contents", "objects")

    def __init__(self, container: Any) -> None:
        self.contents = _copy_container(container)
        values = self.contents.values() if isinstance(self.contents, dict) else self.contents
        self.objects = snapshot_objects(values)

    def restore(self, container: Any) -> None:
        _restore_container(container, self.contents)
        restore_objects(self.objects)


class ClassLevelStore(Generic[_T]):
    """A class attribute holding a mutable container shared by every instance.

    Reading it inside an open :class:`StoreTransaction` takes a snapshot of the
    container the first time, so a transaction pays only for the stores it
    touches.
    """

    __slots__ = ("__weakref__", "container", "name", "owner", "seed")

    def __init__(self, owner: type, name: str, container: _T) -> None:
        self.owner = owner
        self.name = name
        self.container = container
        # Seed data declared by the class is kept (a deep copy, so that a test
        # that changes a seeded object cannot change the next test's seed).
        self.seed = copy.deepcopy(container) if container else None
        _stores.append(weakref.ref(self))

    @overload
    def __get__(self, instance: None, owner: type) -> _T: ...
    @overload
    def __get__(self, instance: object, owner: type) -> _T: ...
    def __get__(self, instance: object | None, owner: type) -> _T:
        for transaction in _open_transactions:
            if self not in transaction._snapshots:
                transaction.capture(self)
        return self.container

    def reset(self) -> None:
        """Put back the contents the class declared."""
        if self.seed is None:
            if self.container:
                self.container.clear()  # type: ignore[attr-defined]
        else:
            _restore_container(self.container, copy.deepcopy(self.seed))

    def __repr__(self) -> str:
        return f"<class-level store {self.owner.__qualname__}.{self.name}>"


def register_class_level_stores(cls: type) -> None:
    """Turn every mutable container that ``cls`` itself declares into a store."""
    for name, value in list(vars(cls).items()):
        if name.startswith("__") or not isinstance(value, _MUTABLE_CONTAINERS):
            continue
        setattr(cls, name, ClassLevelStore(cls, name, value))


def reset_class_level_stores() -> None:
    """Give every class-level store its declared contents back.

    Called after every test; also forgets transactions left open by a test.
    """
    _open_transactions.clear()
    gone = False
    for reference in _stores:
        store = reference()
        if store is None:
            gone = True
        elif store.seed is not None or store.container:
            store.reset()
    if gone:
        _stores[:] = [reference for reference in _stores if reference() is not None]


class StoreTransaction:
    """Snapshots of the class-level stores read while it is open.

    :meth:`rollback` puts every store it captured, and the fields of every
    object they hold, back as they were when the store was first read in the
    transaction. :meth:`commit` keeps everything. Either closes it; closing
    twice does nothing.
    """

    __slots__ = ("_snapshots", "is_open")

    def __init__(self) -> None:
        # None for a store that was empty: most are, when first read.
        self._snapshots: dict[ClassLevelStore[Any], _StoreSnapshot | None] = {}
        self.is_open = True
        _open_transactions.append(self)

    def capture(self, store: ClassLevelStore[Any]) -> None:
        container = store.container
        self._snapshots[store] = _StoreSnapshot(container) if container else None

    def close(self) -> None:
        """Stop capturing, keeping what the stores hold now."""
        if self.is_open:
            self.is_open = False
            _open_transactions.remove(self)
            self._snapshots = {}

    commit = close

    def rollback(self) -> None:
        snapshots = self._snapshots
        self.close()
        for store, snapshot in snapshots.items():
            if snapshot is None:
                store.container.clear()
            else:
                snapshot.restore(store.container)
