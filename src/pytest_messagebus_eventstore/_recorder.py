"""Per-test recording of every message any messagebus message store receives.

From the first test that imports messagebus, the ``add`` method of
messagebus's abstract message stores (async and sync, and of any subclass that
overrides it) and the enter/``commit``/``rollback``/exit of its transactions
are wrapped, so that every store, ours or a project's own SQL store, is
recorded in order, each message with the transaction it was added in and
whether that transaction committed or rolled back. The wrappers call the
original first or last and change nothing in what the store does; outside a
test they only pass the call on. They are removed when the session ends:
installing them for each test would cost every test more than the recording
itself.

The patched methods have no access to the running test, so the active
recorder is a module global, set for the duration of one test.
"""

from __future__ import annotations

import sys
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Literal, cast

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

Status = Literal["pending", "committed", "rolled back"]
# The names of messagebus's statuses of a transaction that may still roll back.
UNFINISHED = frozenset({"running", "streaming"})


class Record:
    """One message a store received during the test, in a transaction or outside any."""

    __slots__ = ("message", "status", "store", "transaction")

    def __init__(self, message: Any, store: Any, transaction: Any) -> None:
        self.message = message
        self.store = store
        self.transaction = transaction
        self.status: Status = "pending"


class Recorder:
    """What the message stores received during one test."""

    __slots__ = ("before_add", "checks", "handler_errors", "records")

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.handler_errors: list[BaseException] = []
        # What each assertion checked, with how many records there were then.
        # Strict mode works out at teardown which records and events these are:
        # most tests are not strict, so an assertion pays only for keeping its
        # items. Kept, they keep their ids: no object made later can take one.
        self.checks: list[tuple[int, tuple[Any, ...]]] = []
        # Called with each message before the store records it (deterministic ids).
        self.before_add: list[Callable[[Any], None]] = []

    def messages_of(self, store: Any, *, include_rolled_back: bool = False) -> list[Any]:
        """The messages ``store`` received, without the rolled back ones by default."""
        return [
            record.message
            for record in self.records
            if record.store is store and (include_rolled_back or record.status != "rolled back")
        ]

    def note_checked(self, items: Iterable[Any]) -> None:
        """Note messages or serialized events as covered by an assertion."""
        self.checks.append((len(self.records), tuple(items)))

    def prepare(self, message: Any) -> None:
        """Before a store records ``message``: let the callbacks change it."""
        for callback in self.before_add:
            callback(message)

    def forget(self) -> None:
        """Start afresh: what came before (a given phase) is not the test's act."""
        self.records.clear()
        self.handler_errors.clear()
        self.checks.clear()

    def _settle(self, transaction: Any, store: Any, status: Status) -> None:
        """The pending messages of ``transaction`` are ``status`` now.

        Messages added outside any transaction go with the next transaction
        of their store that ends.
        """
        for record in self.records:
            if record.status == "pending" and (
                record.transaction is transaction
                or (record.transaction is None and record.store is store)
            ):
                record.status = status


_active: Recorder | None = None
# The messagebus transactions open in each context (asyncio task, thread), innermost last.
_transactions: ContextVar[tuple[Any, ...]] = ContextVar(
    "pytest_messagebus_eventstore_recorded_transactions", default=()
)
# The (store, message) being added, so that an ``add`` that calls its parent's
# is recorded once.
_adding: ContextVar[tuple[Any, Any] | None] = ContextVar(
    "pytest_messagebus_eventstore_adding", default=None
)
_Patch = tuple[type, str, Any, Any]  # owner, attribute, original, wrapper
_patches: list[_Patch] = []
_patches_for: object = None
_installed = False
_outer: list[Recorder | None] = []


def active_recorder() -> Recorder | None:
    return _active


def note_checked(items: Iterable[Any]) -> None:
    """Tell strict mode that an assertion covered these messages or events."""
    if _active is not None:
        _active.note_checked(items)


def _build_patches() -> list[_Patch]:
    """The wrappers, built once per messagebus import rather than once per test."""
    from messagebus import AsyncUnitOfWorkTransaction, SyncUnitOfWorkTransaction

    from ._compat import (
        STORE_ATTRIBUTE,
        AsyncAbstractMessageStoreRepository,
        SyncAbstractMessageStoreRepository,
    )

    # messagebus's transaction statuses, of each flavour: messagebus 0.12 has
    # an enum per flavour.
    statuses: list[Any] = [
        type(flavour(cast("Any", None)).status)
        for flavour in (AsyncUnitOfWorkTransaction, SyncUnitOfWorkTransaction)
    ]
    committed_, running_, streaming_ = (
        tuple(getattr(enum, name) for enum in statuses)
        for name in ("committed", "running", "streaming")
    )

    def transaction_of(store: Any) -> Any:
        for transaction in reversed(_transactions.get()):
            if getattr(transaction.uow, STORE_ATTRIBUTE, None) is store:
                return transaction
        return None

    def settle(transaction: Any, status: Status) -> None:
        store = getattr(transaction.uow, STORE_ATTRIBUTE, None)
        if status == "rolled back":
            # An in-memory store under a project's own unit of work drops what
            # the transaction added, also when messagebus calls no listener
            # (a block left without commit or rollback).
            pending = getattr(store, "_project_rollbacks", None)
            rollback = pending.get(transaction) if pending else None
            if rollback is not None:
                rollback.rolled_back()
        if _active is not None:
            _active._settle(transaction, store, status)

    def committed(transaction: Any) -> bool:
        status = transaction.status
        return status is committed_[0] or status is committed_[1]

    def record(store: Any, message: Any) -> Any:
        """Before the add: a token if this call records, else None."""
        if _active is None or _adding.get() == (store, message):
            return None
        if _active.before_add:
            _active.prepare(message)
        return _adding.set((store, message))

    def recorded(store: Any, message: Any, token: Any) -> None:
        _adding.reset(token)
        if _active is not None:
            transaction = transaction_of(store)
            entry = Record(message, store, transaction)
            autocommits = None
            if transaction is None or (
                transaction.status is not running_[0] and transaction.status is not running_[1]
            ):
                autocommits = getattr(store, "_autocommits", None)
            if autocommits is not None and autocommits():
                # An in-memory store outside a transaction keeps it at once.
                entry.status = "committed"
            _active.records.append(entry)

    def async_add(original: Any) -> Any:
        async def add(self: Any, message: Any) -> None:
            token = record(self, message)
            if token is None:
                await original(self, message)
                return
            try:
                await original(self, message)
            except BaseException:
                _adding.reset(token)
                raise
            recorded(self, message, token)

        add.__wrapped__ = original  # type: ignore[attr-defined]
        add._recorder_wrapper = True  # type: ignore[attr-defined]
        return add

    def sync_add(original: Any) -> Any:
        def add(self: Any, message: Any) -> None:
            token = record(self, message)
            if token is None:
                original(self, message)
                return
            try:
                original(self, message)
            except BaseException:
                _adding.reset(token)
                raise
            recorded(self, message, token)

        add.__wrapped__ = original  # type: ignore[attr-defined]
        add._recorder_wrapper = True  # type: ignore[attr-defined]
        return add

    def async_commit(original: Any) -> Any:
        async def commit(self: Any) -> None:
            try:
                await original(self)
            finally:
                # Committed once the unit of work has: a dependency's
                # on_after_commit that raises after it changes nothing.
                if committed(self):
                    settle(self, "committed")

        return commit

    def sync_commit(original: Any) -> Any:
        def commit(self: Any) -> None:
            try:
                original(self)
            finally:
                if committed(self):
                    settle(self, "committed")

        return commit

    def async_rollback(original: Any) -> Any:
        async def rollback(self: Any) -> None:
            await original(self)
            settle(self, "rolled back")

        return rollback

    def sync_rollback(original: Any) -> Any:
        def rollback(self: Any) -> None:
            original(self)
            settle(self, "rolled back")

        return rollback

    def enter(self: Any) -> None:
        _transactions.set((*_transactions.get(), self))

    def exit_(self: Any, exc: BaseException | None) -> None:
        stack = _transactions.get()
        if self in stack:
            _transactions.set(
                tuple(transaction for transaction in stack if transaction is not self)
            )
        if _active is None:
            return
        if exc is not None:
            _active.handler_errors.append(exc)
        if self.status is not streaming_[0] and self.status is not streaming_[1]:
            # Left without commit or rollback: the unit of work (ours, or a
            # database closing its connection) drops what it wrote.
            settle(self, "rolled back")

    def async_aenter(original: Any) -> Any:
        async def __aenter__(self: Any) -> Any:
            result = await original(self)
            enter(self)
            return result

        return __aenter__

    def sync_enter(original: Any) -> Any:
        def __enter__(self: Any) -> Any:
            result = original(self)
            enter(self)
            return result

        return __enter__

    def async_aexit(original: Any) -> Any:
        async def __aexit__(self: Any, exc_type: Any, exc: Any, tb: Any) -> None:
            try:
                await original(self, exc_type, exc, tb)
            finally:
                exit_(self, exc)

        return __aexit__

    def sync_exit(original: Any) -> Any:
        def __exit__(self: Any, exc_type: Any, exc: Any, tb: Any) -> None:
            try:
                original(self, exc_type, exc, tb)
            finally:
                exit_(self, exc)

        return __exit__

    def async_close(original: Any) -> Any:
        async def close(self: Any) -> None:
            try:
                await original(self)
            finally:
                settle(self, "committed" if committed(self) else "rolled back")

        return close

    def sync_close(original: Any) -> Any:
        def close(self: Any) -> None:
            try:
                original(self)
            finally:
                settle(self, "committed" if committed(self) else "rolled back")

        return close

    patches: list[_Patch] = []

    def patch(owner: type, name: str, make: Callable[[Any], Any]) -> None:
        original = owner.__dict__.get(name, _NoOriginal)
        # Wrapped by an earlier session (a class defined while it recorded).
        while getattr(original, "_recorder_wrapper", False):
            original = original.__wrapped__
        patches.append((owner, name, original, make(original)))

    for store_base, add in (
        (AsyncAbstractMessageStoreRepository, async_add),
        (SyncAbstractMessageStoreRepository, sync_add),
    ):
        # A store that overrides add() rather than _add() is recorded too.
        for store_class in (store_base, *_subclasses(store_base)):
            if "add" in store_class.__dict__:
                patch(store_class, "add", add)
        patch(store_base, "__init_subclass__", _wrap_new_subclasses(store_base, add))
    for transaction, wrappers in (
        (
            AsyncUnitOfWorkTransaction,
            {
                "__aenter__": async_aenter,
                "__aexit__": async_aexit,
                "commit": async_commit,
                "rollback": async_rollback,
                "close": async_close,
            },
        ),
        (
            SyncUnitOfWorkTransaction,
            {
                "__enter__": sync_enter,
                "__exit__": sync_exit,
                "commit": sync_commit,
                "rollback": sync_rollback,
                "close": sync_close,
            },
        ),
    ):
        for name, make in wrappers.items():
            patch(transaction, name, make)
    return patches


def _subclasses(cls: type) -> list[type]:
    found: list[type] = []
    pending: list[type] = list(cls.__subclasses__())
    while pending:
        subclass = pending.pop()
        if subclass not in found:
            found.append(subclass)
            pending.extend(subclass.__subclasses__())
    return found


class _NoOriginal:
    """Stands for an attribute the owner did not have before it was patched."""


def _wrap_new_subclasses(base: type, add: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """An ``__init_subclass__`` for ``base``: wraps the ``add`` of stores defined from now on."""

    def make(original: Any) -> Any:
        def __init_subclass__(cls: Any, /, **kwargs: Any) -> None:
            if isinstance(original, classmethod):
                original.__func__(cls, **kwargs)
            else:
                super(base, cls).__init_subclass__(**kwargs)  # type: ignore[arg-type]
            own = cls.__dict__.get("add")
            if own is not None and not getattr(own, "_recorder_wrapper", False):
                type.__setattr__(cls, "add", add(own))

        return classmethod(__init_subclass__)

    return make


def _install(messagebus: object) -> None:
    global _installed, _patches, _patches_for
    if _installed:
        # A test running pytest in-process may have imported messagebus anew.
        _uninstall()
    _patches, _patches_for = _build_patches(), messagebus
    from ._published import patches as publisher_patches

    _patches += publisher_patches()
    for owner, name, _, wrapper in _patches:
        type.__setattr__(owner, name, wrapper)
    _installed = True


def _uninstall() -> None:
    global _installed
    for owner, name, original, _ in _patches:
        if original is _NoOriginal:
            type.__delattr__(owner, name)
        else:
            type.__setattr__(owner, name, original)
    _installed = False


def start() -> Recorder | None:
    """A recorder for the running test if messagebus is imported, else None."""
    global _active
    messagebus = sys.modules.get("messagebus")
    if messagebus is None:
        return None
    if messagebus is not _patches_for or not _installed:
        _install(messagebus)
    # A test may run pytest in-process (pytester): keep the outer test's recorder.
    _outer.append(_active)
    _active = Recorder()
    return _active


def stop(recorder: Recorder) -> None:
    """Stop recording with ``recorder``; the outer test's recorder is active again."""
    global _active
    if recorder is _active and _outer:
        _active = _outer.pop()


def uninstall() -> None:
    """Remove the wrappers, unless an outer session (pytester) still records."""
    if _installed and _active is None and not _outer:
        _uninstall()
