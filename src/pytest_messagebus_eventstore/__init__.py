"""pytest plugin for messagebus applications.

The public names are imported on first use, so that installing the plugin does
not make every pytest run import messagebus.
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._transactions import NestedTransactionError, TransactionConflict
    from .assertions import Like, assert_messages, like
    from .dependency import InMemoryDependency, SyncInMemoryDependency
    from .eventstore import (
        InMemoryEventstoreRepository,
        SyncInMemoryEventstoreRepository,
    )
    from .metrics import InMemoryMetricsStore
    from .recording import recorded_messages
    from .repository import InMemoryRepository
    from .transport import (
        InMemoryEventstreamTransport,
        SyncInMemoryEventstreamTransport,
    )
    from .uow import InMemoryUnitOfWork, SyncInMemoryUnitOfWork

    AsyncInMemoryDependency = InMemoryDependency
    AsyncInMemoryEventstoreRepository = InMemoryEventstoreRepository
    AsyncInMemoryEventstreamTransport = InMemoryEventstreamTransport
    AsyncInMemoryUnitOfWork = InMemoryUnitOfWork

__all__ = [
    "AsyncInMemoryDependency",
    "AsyncInMemoryEventstoreRepository",
    "AsyncInMemoryEventstreamTransport",
    "AsyncInMemoryUnitOfWork",
    "InMemoryDependency",
    "InMemoryEventstoreRepository",
    "InMemoryEventstreamTransport",
    "InMemoryMetricsStore",
    "InMemoryRepository",
    "InMemoryUnitOfWork",
    "Like",
    "NestedTransactionError",
    "SyncInMemoryDependency",
    "SyncInMemoryEventstoreRepository",
    "SyncInMemoryEventstreamTransport",
    "SyncInMemoryUnitOfWork",
    "TransactionConflict",
    "assert_messages",
    "like",
    "recorded_messages",
]

_MODULES = {
    "InMemoryDependency": "dependency",
    "SyncInMemoryDependency": "dependency",
    "InMemoryMetricsStore": "metrics",
    "InMemoryEventstoreRepository": "eventstore",
    "SyncInMemoryEventstoreRepository": "eventstore",
    "InMemoryEventstreamTransport": "transport",
    "SyncInMemoryEventstreamTransport": "transport",
    "InMemoryRepository": "repository",
    "InMemoryUnitOfWork": "uow",
    "SyncInMemoryUnitOfWork": "uow",
    "Like": "assertions",
    "NestedTransactionError": "_transactions",
    "TransactionConflict": "_transactions",
    "assert_messages": "assertions",
    "like": "assertions",
    "recorded_messages": "recording",
}


# The async classes under their ``Async`` names too: unasync renames those to
# their ``Sync`` twins, so an async test tree and its generated copy both work.
_ASYNC_NAMES = {
    "AsyncInMemoryDependency": "InMemoryDependency",
    "AsyncInMemoryEventstoreRepository": "InMemoryEventstoreRepository",
    "AsyncInMemoryEventstreamTransport": "InMemoryEventstreamTransport",
    "AsyncInMemoryUnitOfWork": "InMemoryUnitOfWork",
}


def __getattr__(name: str) -> Any:
    name = _ASYNC_NAMES.get(name, name)
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    # Not cached in this namespace: a test that runs pytest in-process
    # (pytester) may drop and re-import messagebus, and must get fresh names.
    return getattr(import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return sorted(__all__)


def _import_without_assertion_rewriting() -> None:
    """Let Python import this package's modules, rather than pytest's assertion rewriter.

    pytest marks every module of a pytest11 plugin's distribution for assertion
    rewriting, and loads each rewritten module from its cache object by object
    (a file read per object). For this package, whose modules have no assert
    to rewrite, that doubled what the plugin costs a session at start-up.
    pytest offers no public way to opt out: without the private names looked
    for here, the modules are only imported the slower way.
    """
    for finder in sys.meta_path:
        marked = getattr(finder, "_must_rewrite", None)
        cache = getattr(finder, "_marked_for_rewrite_cache", None)
        if isinstance(marked, set) and isinstance(cache, dict):
            marked.discard(__name__)
            cache.clear()


_import_without_assertion_rewriting()
