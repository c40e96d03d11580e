"""Class-level stores: registration, baselines, and the per-test and per-session reset.

In-memory fakes keep their rows in class attributes (``books: ClassVar[dict] = {}``)
so that every instance of a repository sees the same data, as every connection
to a database does. This module turns those containers into stores when a
class is defined: read inside a transaction, a store gives that transaction's
view (see :mod:`._transactions`); outside any, the shared container itself.

After each test, every store goes back to its baseline: the contents its class
declares, plus what the class-, module-, package- or session-scoped fixtures
in force wrote while they were set up (one :class:`Layer` each). Each pytest
session (an in-process pytester run is one more) starts from the declared
contents and gives the stores back as it found them.

The registry lives at module level, not in ``config.stash``: classes are defined
at import time, before and independently of any pytest session.

This module must not import messagebus, so that the plugin costs nothing at
start-up for a project that never uses it.
"""

from __future__ import annotations

import abc
import copy
import weakref
from collections.abc import Iterable, Mapping, MutableMapping, MutableSequence, MutableSet
from typing import Any, Generic, TypeVar, overload

from . import _transactions

_T = TypeVar("_T")

_MUTABLE_CONTAINERS = (MutableMapping, MutableSequence, MutableSet)

# Weak references, so that classes a test defines can go; a plain list, as
# iterating a WeakSet after every test costs several times more.
_stores: list[weakref.ref[ClassLevelStore[Any]]] = []


def _fill(container: Any, contents: Any) -> None:
    """Give ``container`` the contents ``contents``, in place, keeping its identity."""
    if type(container) is list:
        container[:] = contents
        return
    container.clear()
    if isinstance(container, MutableMapping):
        container.update(contents)
    elif isinstance(container, MutableSequence):
        container.extend(contents)
    else:
        container |= contents


def _contents(container: Any) -> Any:
    """A shallow copy of ``container``'s contents, as a dict, list or set."""
    if isinstance(container, Mapping):
        return dict(container)
    if isinstance(container, MutableSequence):
        return list(container)
    return set(container)


class ClassLevelStore(Generic[_T]):
    """A class attribute holding a mutable container shared by every instance."""

    __slots__ = ("__weakref__", "container", "name", "original", "owner", "seed")

    def __init__(self, owner: type, name: str, container: _T) -> None:
        self.owner = owner
        self.name = name
        self.container = container
        # The container the class declared: a test may put another in its place.
        self.original = container
        # Seed data declared by the class is kept (a deep copy, so that a test
        # that changes a seeded object cannot change the next test's seed).
        self.seed = copy.deepcopy(container) if container else None
        _stores.append(weakref.ref(self))

    @overload
    def __get__(self, instance: None, owner: type) -> _T: ...
    @overload
    def __get__(self, instance: object, owner: type) -> _T: ...
    def __get__(self, instance: object | None, owner: type) -> _T:
        stack = _transactions.current.get()
        if not stack:
            return self.container
        # The usual case inline: one transaction open in the running task.
        transaction = stack[-1]
        if len(stack) > 1 or not transaction.is_open:
            found = _transactions.transaction_for(instance)
            if found is None:
                return self.container
            transaction = found
        view = transaction.views.get(self)
        if view is None:
            view = transaction.view(self)
        return view  # type: ignore[return-value]

    def replace(self, container: Any) -> None:
        """``Owner.name = container``: the shared contents are those of ``container`` now."""
        self.container = container

    def restore(self, contents: Any) -> None:
        """Put the declared container back, holding a deep copy of ``contents``."""
        self.container = self.original
        if contents is None:
            if self.container:
                self.container.clear()  # type: ignore[attr-defined]
        else:
            _fill(self.container, copy.deepcopy(contents))

    def __repr__(self) -> str:
        return f"<class-level store {self}>"

    def __str__(self) -> str:
        return f"{self.owner.__qualname__}.{self.name}"


class StoreMeta(abc.ABCMeta):
    """The metaclass of in-memory repositories: a store reassigned stays a store.

    ``Shelf.rows = {...}`` in a test would otherwise replace the store with a
    plain dict, for every later test, and outside every transaction.
    """

    def __setattr__(cls, name: str, value: Any) -> None:
        if value is cls.__dict__.get(name) or name.startswith("__"):
            super().__setattr__(name, value)
            return
        found = next(
            (
                klass
                for klass in cls.__mro__
                if isinstance(klass.__dict__.get(name), ClassLevelStore)
            ),
            None,
        )
        if found is None:
            super().__setattr__(name, value)
            return
        store = found.__dict__[name]
        if in_test:
            if found is cls and isinstance(value, _MUTABLE_CONTAINERS):
                store.replace(value)
                return
            # Until the end of the test: a subclass's own store, or another value.
            _replaced.append((cls, name, cls.__dict__.get(name)))
        # In a module body, outside a test, the class declares new contents for
        # good. A store of the same kind: a fake dependency's stays outside
        # the transactions.
        if isinstance(value, _MUTABLE_CONTAINERS):
            value = type(store)(cls, name, value)
        super().__setattr__(name, value)


# Whether a test is running: what it reassigns is put back after it.
in_test = False
# (class, name, what the class itself held there) for each attribute a test
# set over a store: put back after the test.
_replaced: list[tuple[type, str, Any]] = []


def register_class_level_stores(
    cls: type, kind: type[ClassLevelStore[Any]] = ClassLevelStore
) -> None:
    """Turn every mutable container that ``cls`` itself declares into a store of ``kind``."""
    __tracebackhide__ = True
    for name, value in list(vars(cls).items()):
        if not name.startswith("__") and isinstance(value, _MUTABLE_CONTAINERS):
            type.__setattr__(cls, name, kind(cls, name, value))
    _refuse_unmanaged_containers(cls)


def _refuse_unmanaged_containers(cls: type) -> None:
    """Refuse a mutable container ``cls`` inherits from a plain base class.

    Only the containers of store classes are stores: one inherited from a base
    without the metaclass would be neither reset nor isolated by transactions,
    and the tests would leak rows into each other.
    """
    __tracebackhide__ = True
    defined = set(vars(cls))
    for base in cls.__mro__[1:]:
        if not isinstance(base, StoreMeta):
            for name, value in vars(base).items():
                if (
                    name not in defined
                    and not name.startswith("__")
                    and isinstance(value, _MUTABLE_CONTAINERS)
                ):
                    raise TypeError(_unmanaged(cls, base, name, value))
        defined.update(vars(base))


def _unmanaged(cls: type, base: type, name: str, value: Any) -> str:
    package = __name__.rpartition(".")[0]
    # The plugin's class the fake derives from: InMemoryRepository, say.
    plugin_base = next(klass for klass in cls.__mro__ if klass.__module__.startswith(package))
    plugin_name = plugin_base.__name__
    return (
        f"{cls.__qualname__} inherits the class-level {type(value).__name__} {name!r} from "
        f"{base.__qualname__}, which is not a subclass of {plugin_name}: the plugin would "
        "neither reset it after each test nor isolate it in transactions. Declare "
        f"{name} in {cls.__qualname__}, or make {base.__qualname__} a subclass of "
        f"{plugin_name}; a constant can be a tuple, a frozenset or a MappingProxyType."
    )


def live_stores() -> list[ClassLevelStore[Any]]:
    stores = []
    gone = False
    for reference in _stores:
        store = reference()
        if store is None:
            gone = True
        else:
            stores.append(store)
    if gone:
        _stores[:] = [reference for reference in _stores if reference() is not None]
    return stores


class Layer:
    """What a wider-scoped fixture wrote into the stores while it was set up."""

    __slots__ = ("after", "before")

    def __init__(self) -> None:
        self.before = {store: _contents(store.container) for store in live_stores()}
        self.after: dict[ClassLevelStore[Any], Any] = {}

    def close(self) -> None:
        """The set-up finished: keep what changed, as deep copies."""
        for store in live_stores():
            now = _contents(store.container)
            before = self.before.get(store)
            if before is None or not _same_contents(before, now):
                self.after[store] = copy.deepcopy(now)
        self.before = {}


def _same_contents(before: Any, now: Any) -> bool:
    if isinstance(before, dict):
        return before.keys() == now.keys() and all(before[k] is now[k] for k in before)
    if isinstance(before, list):
        return len(before) == len(now) and all(a is b for a, b in zip(before, now, strict=False))
    return bool(before == now)


# The baselines of the fixture scopes in force, outermost first.
_layers: list[Layer] = []
# The layer of the wider-scoped fixture being set up.
opening: list[Layer] = []


def open_layer() -> Layer:
    """A wider-scoped fixture's set-up begins: what it writes until :func:`close_layer` counts."""
    layer = Layer()
    _layers.append(layer)
    opening.append(layer)
    return layer


def close_layer() -> None:
    """The set-up of the fixture whose layer is open is over."""
    if opening:
        opening.pop().close()


def pop_layer(layer: Layer) -> None:
    """The fixture's scope ended: its data goes (at the next reset)."""
    if layer in _layers:
        _layers.remove(layer)


def _baseline(store: ClassLevelStore[Any]) -> Any:
    for layer in reversed(_layers):
        if store in layer.after:
            return layer.after[store]
    return store.seed


def reset_class_level_stores() -> None:
    """Give every store its baseline back; roll back the transactions left open.

    Called after every test.
    """
    _transactions.close_all()
    _transactions.forget_writes()
    while _replaced:
        cls, name, held = _replaced.pop()
        if held is None:
            type.__delattr__(cls, name)
        else:
            type.__setattr__(cls, name, held)
    for store in live_stores():
        baseline = _baseline(store)
        if baseline is not None or store.container or store.container is not store.original:
            store.restore(baseline)


class Snapshot:
    """Every store's contents, to put back later: around a session, or a hypothesis example."""

    __slots__ = ("contents", "deep", "layers", "shared")

    def __init__(self, *, deep: bool, shared: Iterable[object] = ()) -> None:
        """``deep`` copies the contents; the ``shared`` objects are put back as themselves."""
        self.deep = deep
        # deepcopy's memo: an object already in it is "copied" as itself.
        self.shared = {id(item): item for item in shared}
        contents = {store: (store.container, _contents(store.container)) for store in live_stores()}
        if deep:
            contents = {
                store: (kept, copy.deepcopy(data, dict(self.shared)))
                for store, (kept, data) in contents.items()
            }
        self.contents = contents
        self.layers = list(_layers)

    def restore(self) -> None:
        for store, (container, data) in self.contents.items():
            store.container = container
            _fill(container, copy.deepcopy(data, dict(self.shared)) if self.deep else data)
        _layers[:] = self.layers


class Session:
    """What a pytest session found when it started, given back when it ends.

    An in-process pytester run is a session inside the outer test: it starts
    from the declared contents, outside the outer test's transactions, and
    leaves the outer test's stores and transactions as they were, even if it
    was interrupted.
    """

    __slots__ = ("in_test", "replaced", "stores", "token", "transactions")

    def __init__(self) -> None:
        global in_test
        self.stores = Snapshot(deep=False)
        self.transactions = list(_transactions.open_transactions)
        self.replaced = list(_replaced)
        self.in_test = in_test
        self.token = _transactions.current.set(())
        _transactions.open_transactions.clear()
        _replaced.clear()
        _layers.clear()
        opening.clear()
        in_test = False
        reset_class_level_stores()

    def end(self) -> None:
        global in_test
        reset_class_level_stores()
        self.stores.restore()
        _transactions.open_transactions[:] = self.transactions
        _replaced[:] = self.replaced
        in_test = self.in_test
        try:
            _transactions.current.reset(self.token)
        except ValueError:  # ended in another context than it started
            _transactions.current.set(())
