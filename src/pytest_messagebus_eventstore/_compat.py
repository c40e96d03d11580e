"""Names that moved between messagebus 0.12 and 0.13.

messagebus 0.13 renamed the message store: ``eventstore`` became ``messagestore``
and ``Async/SyncEventstoreAbstractRepository`` became
``Async/SyncAbstractMessageStoreRepository``. The rest of the plugin imports
the new names from here and runs unchanged on both.
"""

from __future__ import annotations

import messagebus

try:
    from messagebus import (
        AsyncAbstractMessageStoreRepository,
        SyncAbstractMessageStoreRepository,
    )

    STORE_ATTRIBUTE = "messagestore"
except ImportError:  # messagebus 0.12
    AsyncAbstractMessageStoreRepository = messagebus.AsyncEventstoreAbstractRepository  # type: ignore[attr-defined,misc]
    SyncAbstractMessageStoreRepository = messagebus.SyncEventstoreAbstractRepository  # type: ignore[attr-defined,misc]
    STORE_ATTRIBUTE = "eventstore"

__all__ = [
    "STORE_ATTRIBUTE",
    "AsyncAbstractMessageStoreRepository",
    "SyncAbstractMessageStoreRepository",
]
