"""Per-test recording of every message any messagebus message store receives.

From the first test that imports messagebus, the ``add`` method of
messagebus's abstract message stores (async and sync) and the
``commit``/``rollback``/exit of its transactions are wrapped, so that every
store, ours or a project's own SQL store, is recorded in order, with whether
its transaction committed or rolled back. The wrappers call the original first
or last and change nothing in what the store does; outside a test they only
pass the call on. They are removed when the session ends: installing them for
each test would cost every test more than the recording itself.

The patched methods have no access to the running test, so the active
recorder is a module global, set for the duration of one test.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable

Status = Literal["pending", "committed", "rolled back"]


class Record:
    """One message a store received during the test."""

    __slots__ = ("message", "status", "store")

    def __init__(self, message: Any, store: Any) -> None:
        self.message = message
        self.store = store
        self.status: Status = "pending"


class Recorder:
    """What the message stores received during one test."""

    __slots__ = ("before_add", "checked", "handler_errors", "records")

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.handler_errors: list[BaseException] = []
        self.checked: set[int] = set()
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
        """Mark messages or serialized events as covered by an assertion."""
        self.checked.update(id(item) for item in items)

    def prepare(self, message: Any) -> None:
        """Before a store records ``message``: let the callbacks change it."""
        for callback in self.before_add:
            callback(message)

    def forget(self) -> None:
        """Start afresh: what came before (a given phase) is not the test's act."""
        self.records.clear()
        self.handler_errors.clear()
        self.checked.clear()

    def _settle(self, store: Any, status: Status) -> None:
        for record in self.records:
            if record.store is store and record.status == "pending":
                record.status = status


_active: Recorder | None = None
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

    def settle(transaction: Any, status: Status) -> None:
        if _active is not None:
            _active._settle(getattr(transaction.uow, STORE_ATTRIBUTE, None), status)

    def async_add(original: Any) -> Any:
        async def add(self: Any, message: Any) -> None:
            if _active is not None and _active.before_add:
                _active.prepare(message)
            await original(self, message)
            if _active is not None:
                _active.records.append(Record(message, self))

        return add

    def sync_add(original: Any) -> Any:
        def add(self: Any, message: Any) -> None:
            if _active is not None and _active.before_add:
                _active.prepare(message)
            original(self, message)
            if _active is not None:
                _active.records.append(Record(message, self))

        return add

    def async_settling(status: Status) -> Callable[[Any], Any]:
        def wrap(original: Any) -> Any:
            async def method(self: Any) -> None:
                await original(self)
                settle(self, status)

            return method

        return wrap

    def sync_settling(status: Status) -> Callable[[Any], Any]:
        def wrap(original: Any) -> Any:
            def method(self: Any) -> None:
                original(self)
                settle(self, status)

            return method

        return wrap

    def note_error(exc: BaseException | None) -> None:
        if _active is not None and exc is not None:
            _active.handler_errors.append(exc)

    def async_exit(original: Any) -> Any:
        # Not a coroutine function: nothing is left to do after the original,
        # so its awaitable is handed back, at the cost of no extra coroutine.
        def __aexit__(self: Any, exc_type: Any, exc: Any, tb: Any) -> Awaitable[None]:
            note_error(exc)
            return original(self, exc_type, exc, tb)  # type: ignore[no-any-return]

        return __aexit__

    def sync_exit(original: Any) -> Any:
        def __exit__(self: Any, exc_type: Any, exc: Any, tb: Any) -> None:
            note_error(exc)
            original(self, exc_type, exc, tb)

        return __exit__

    patches: list[_Patch] = []

    def patch(owner: type, name: str, make: Callable[[Any], Any]) -> None:
        original = owner.__dict__[name]
        patches.append((owner, name, original, make(original)))

    patch(AsyncAbstractMessageStoreRepository, "add", async_add)
    patch(SyncAbstractMessageStoreRepository, "add", sync_add)
    for transaction, settling, exit_ in (
        (AsyncUnitOfWorkTransaction, async_settling, async_exit),
        (SyncUnitOfWorkTransaction, sync_settling, sync_exit),
    ):
        patch(transaction, "commit", settling("committed"))
        patch(transaction, "rollback", settling("rolled back"))
        patch(transaction, "__aexit__" if exit_ is async_exit else "__exit__", exit_)
    return patches


def _install(messagebus: object) -> None:
    global _installed, _patches, _patches_for
    if _installed:
        # A test running pytest in-process may have imported messagebus anew.
        _uninstall()
    _patches, _patches_for = _build_patches(), messagebus
    for owner, name, _, wrapper in _patches:
        setattr(owner, name, wrapper)
    _installed = True


def _uninstall() -> None:
    global _installed
    for owner, name, original, _ in _patches:
        setattr(owner, name, original)
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
