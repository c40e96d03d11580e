"""pytest plugin: fixtures, ini options and the per-test reset of in-memory stores.

messagebus is imported only by the fixtures that need it, so a project that
has the plugin installed and never uses it does not pay for the import.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

import pytest

from . import _recorder
from ._stores import reset_class_level_stores

if TYPE_CHECKING:
    from collections.abc import Generator, Mapping

    from messagebus import AsyncMessageBus, SyncMessageBus

    from .eventstore import (
        InMemoryEventstoreRepository,
        SyncInMemoryEventstoreRepository,
    )
    from .transport import (
        InMemoryEventstreamTransport,
        SyncInMemoryEventstreamTransport,
    )
    from .uow import InMemoryUnitOfWork, SyncInMemoryUnitOfWork


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "messagebus_scan",
        type="linelist",
        default=[],
        help="messagebus: modules whose async handlers (async_listen) the `bus` "
        "fixture registers, one per line.",
    )
    parser.addini(
        "messagebus_sync_scan",
        type="linelist",
        default=[],
        help="messagebus: modules whose sync handlers (sync_listen) the "
        "`sync_bus` fixture registers, one per line.",
    )


def pytest_report_header(config: pytest.Config) -> list[str]:
    try:
        messagebus_version = version("messagebus")
    except PackageNotFoundError:
        messagebus_version = "not installed"
    scan = ", ".join(config.getini("messagebus_scan")) or "(none)"
    sync_scan = ", ".join(config.getini("messagebus_sync_scan")) or "(none)"
    return [f"messagebus: {messagebus_version}, scan: {scan}, sync scan: {sync_scan}"]


# The tests being run, innermost last (a test may run pytest in-process). The
# fixtures find their test here: a fixture asking for ``request`` makes pytest
# build a fixture definition for it on every call, a cost paid by every test.
_running: list[pytest.Item] = []


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    _running.append(item)
    _recorder.start(item)
    return (yield)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    # Runs around every test's teardown, whatever its outcome and whichever
    # fixtures it used, once the fixtures have finished their own teardown.
    try:
        return (yield)
    finally:
        reset_class_level_stores()
        _recorder.stop(item)
        if item in _running:
            _running.remove(item)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    try:
        return (yield)
    finally:
        # Once the test is reported, its recorder is dropped: kept on the item
        # until the session ends, every message of every test would stay alive
        # and the garbage collector would walk them all again and again.
        if _recorder.recorder_key in item.stash:
            del item.stash[_recorder.recorder_key]


@pytest.fixture
def transport() -> InMemoryEventstreamTransport:
    """An in-memory eventstream transport; ``transport.events`` lists what was sent.

    The events are the serialized published messages, sent when a transaction
    of ``uow`` commits.
    """
    from .transport import InMemoryEventstreamTransport

    return InMemoryEventstreamTransport()


@pytest.fixture
def sync_transport() -> SyncInMemoryEventstreamTransport:
    """Sync twin of ``transport``, fed by ``sync_uow``."""
    from .transport import SyncInMemoryEventstreamTransport

    return SyncInMemoryEventstreamTransport()


@pytest.fixture
def eventstore(transport: InMemoryEventstreamTransport) -> InMemoryEventstoreRepository:
    """The in-memory message store of ``uow``, publishing to ``transport``.

    ``eventstore.messages`` lists every message the bus handled in this test,
    in order. It is emptied after each test.
    """
    from messagebus import AsyncEventstreamPublisher

    from .eventstore import InMemoryEventstoreRepository

    _recorder.start(_running[-1])
    return InMemoryEventstoreRepository(publisher=AsyncEventstreamPublisher(transport))


@pytest.fixture
def sync_eventstore(
    sync_transport: SyncInMemoryEventstreamTransport,
) -> SyncInMemoryEventstoreRepository:
    """Sync twin of ``eventstore``, publishing to ``sync_transport``."""
    from messagebus import SyncEventstreamPublisher

    from .eventstore import SyncInMemoryEventstoreRepository

    _recorder.start(_running[-1])
    return SyncInMemoryEventstoreRepository(publisher=SyncEventstreamPublisher(sync_transport))


@pytest.fixture
def messagebus_repositories() -> Mapping[str, Any]:
    """The repositories of ``uow``, by attribute name. Empty by default.

    Override it in your conftest::

        @pytest.fixture
        def messagebus_repositories():
            return {"books": FakeBookRepository()}
    """
    return {}


@pytest.fixture
def messagebus_sync_repositories() -> Mapping[str, Any]:
    """The repositories of ``sync_uow``, by attribute name. Empty by default."""
    return {}


@pytest.fixture
def uow(
    eventstore: InMemoryEventstoreRepository,
    messagebus_repositories: Mapping[str, Any],
) -> InMemoryUnitOfWork:
    """An ``InMemoryUnitOfWork`` over ``eventstore`` and ``messagebus_repositories``.

    Use it as ``async with uow as transaction``; a rollback restores the
    repositories' class-level stores as they were when the transaction began.
    """
    from .uow import InMemoryUnitOfWork

    return InMemoryUnitOfWork(eventstore=eventstore, **messagebus_repositories)


@pytest.fixture
def sync_uow(
    sync_eventstore: SyncInMemoryEventstoreRepository,
    messagebus_sync_repositories: Mapping[str, Any],
) -> SyncInMemoryUnitOfWork:
    """Sync twin of ``uow``, over ``sync_eventstore`` and ``messagebus_sync_repositories``."""
    from .uow import SyncInMemoryUnitOfWork

    return SyncInMemoryUnitOfWork(eventstore=sync_eventstore, **messagebus_sync_repositories)


@pytest.fixture
def bus() -> AsyncMessageBus[Any]:
    """An ``AsyncMessageBus`` with the async handlers of the ``messagebus_scan`` modules.

    The modules are scanned once per session; each test gets its own bus, so
    listeners a test adds or removes do not leak into the next one.
    """
    __tracebackhide__ = True
    from ._scan import make_bus

    return make_bus(_running[-1].config, "async", {})  # type: ignore[no-any-return]


@pytest.fixture
def sync_bus() -> SyncMessageBus[Any]:
    """A ``SyncMessageBus`` with the sync handlers of the ``messagebus_sync_scan`` modules."""
    __tracebackhide__ = True
    from ._scan import make_bus

    return make_bus(_running[-1].config, "sync", {})  # type: ignore[no-any-return]
