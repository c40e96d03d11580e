"""What any message store received during the running test, as the plugin recorded it."""

from __future__ import annotations

from typing import Any

from messagebus import (
    AsyncAbstractUnitOfWork,
    AsyncUnitOfWorkTransaction,
    Message,
    SyncAbstractUnitOfWork,
    SyncUnitOfWorkTransaction,
)

from . import _recorder
from ._compat import (
    STORE_ATTRIBUTE,
    AsyncAbstractMessageStoreRepository,
    SyncAbstractMessageStoreRepository,
)


def message_store_of(source: Any) -> Any | None:
    """The message store of a unit of work or its transaction, ``source`` if it is one."""
    if isinstance(source, (AsyncUnitOfWorkTransaction, SyncUnitOfWorkTransaction)):
        source = source.uow
    if isinstance(source, (AsyncAbstractUnitOfWork, SyncAbstractUnitOfWork)):
        source = getattr(source, STORE_ATTRIBUTE, None)
    if isinstance(
        source, (AsyncAbstractMessageStoreRepository, SyncAbstractMessageStoreRepository)
    ):
        return source
    return None


def recorded_messages(source: Any, *, include_rolled_back: bool = False) -> list[Message[Any]]:
    """The messages the store of ``source`` received during the running test, in order.

    ``source`` is a message store, a unit of work, or the transaction of
    ``async with uow as transaction``: any of them, the plugin's in-memory ones
    or a project's own (a SQL store, say). Messages of rolled back transactions
    are left out unless ``include_rolled_back`` is true::

        assert_messages(recorded_messages(uow, include_rolled_back=True), [RegisterBook])
    """
    __tracebackhide__ = True
    store = message_store_of(source)
    if store is None:
        raise TypeError(
            f"recorded_messages() expects a message store, a unit of work or a transaction, "
            f"got {type(source).__name__}"
        )
    recorder = _recorder.active_recorder()
    if recorder is None:
        raise TypeError(
            "recorded_messages() reads what the plugin recorded during the running test; "
            "call it from a test run by pytest with the plugin enabled"
        )
    return recorder.messages_of(store, include_rolled_back=include_rolled_back)
