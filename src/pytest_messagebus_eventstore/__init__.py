"""pytest plugin for messagebus applications.

The public names are imported on first use, so that installing the plugin does
not make every pytest run import messagebus.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .assertions import Like, assert_messages, like
    from .eventstore import (
        InMemoryEventstoreRepository,
        SyncInMemoryEventstoreRepository,
    )
    from .recording import recorded_messages
    from .repository import InMemoryRepository
    from .transport import (
        InMemoryEventstreamTransport,
        SyncInMemoryEventstreamTransport,
    )
    from .uow import InMemoryUnitOfWork, SyncInMemoryUnitOfWork

__all__ = [
    "InMemoryEventstoreRepository",
    "InMemoryEventstreamTransport",
    "InMemoryRepository",
    "InMemoryUnitOfWork",
    "Like",
    "SyncInMemoryEventstoreRepository",
    "SyncInMemoryEventstreamTransport",
    "SyncInMemoryUnitOfWork",
    "assert_messages",
    "like",
    "recorded_messages",
]

_MODULES = {
    "InMemoryEventstoreRepository": "eventstore",
    "SyncInMemoryEventstoreRepository": "eventstore",
    "InMemoryEventstreamTransport": "transport",
    "SyncInMemoryEventstreamTransport": "transport",
    "InMemoryRepository": "repository",
    "InMemoryUnitOfWork": "uow",
    "SyncInMemoryUnitOfWork": "uow",
    "Like": "assertions",
    "assert_messages": "assertions",
    "like": "assertions",
    "recorded_messages": "recording",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    # Not cached in this namespace: a test that runs pytest in-process
    # (pytester) may drop and re-import messagebus, and must get fresh names.
    return getattr(import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return sorted(__all__)
