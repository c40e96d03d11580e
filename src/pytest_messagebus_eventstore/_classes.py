"""The classes the fixtures build their objects from.

The plugin imports this module on first use, as it imports messagebus, and
then finds it in ``sys.modules``: an import statement in a fixture costs each
test more than building the object.
"""

from __future__ import annotations

from messagebus import AsyncEventstreamPublisher, SyncEventstreamPublisher
from messagebus.service.eventstream import MessageSerializer

from .eventstore import InMemoryEventstoreRepository, SyncInMemoryEventstoreRepository
from .transport import InMemoryEventstreamTransport, SyncInMemoryEventstreamTransport
from .uow import InMemoryUnitOfWork, SyncInMemoryUnitOfWork

__all__ = [
    "AsyncEventstreamPublisher",
    "InMemoryEventstoreRepository",
    "InMemoryEventstreamTransport",
    "InMemoryUnitOfWork",
    "MessageSerializer",
    "SyncEventstreamPublisher",
    "SyncInMemoryEventstoreRepository",
    "SyncInMemoryEventstreamTransport",
    "SyncInMemoryUnitOfWork",
]
