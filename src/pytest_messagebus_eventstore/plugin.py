"""pytest plugin: fixtures, ini options and the per-test reset of in-memory stores.

messagebus is imported only by the fixtures that need it, so a project that
has the plugin installed and never uses it does not pay for the import.
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

import pytest

from . import _recorder
from ._report import check_strict
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
    parser.addini(
        "messagebus_strict",
        default="false",
        help="messagebus: in every passing test, each recorded message and streamed "
        "event must be checked by assert_messages (true/false, default false).",
    )


def pytest_report_header(config: pytest.Config) -> list[str]:
    try:
        messagebus_version = version("messagebus")
    except PackageNotFoundError:
        messagebus_version = "not installed"
    scan = ", ".join(config.getini("messagebus_scan")) or "(none)"
    sync_scan = ", ".join(config.getini("messagebus_sync_scan")) or "(none)"
    return [f"messagebus: {messagebus_version}, scan: {scan}, sync scan: {sync_scan}"]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    _recorder.start(item)
    return (yield)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    # Runs around every test's teardown, whatever its outcome and whichever
    # fixtures it used, once the fixtures have finished their own teardown.
    try:
        result = yield
        check_strict(item)
        return result
    finally:
        reset_class_level_stores()
        _recorder.stop(item)


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
def eventstore(
    request: pytest.FixtureRequest, transport: InMemoryEventstreamTransport
) -> InMemoryEventstoreRepository:
    """The in-memory message store of ``uow``, publishing to ``transport``.

    ``eventstore.messages`` lists every message the bus handled in this test,
    in order. It is emptied after each test.
    """
    from messagebus import AsyncEventstreamPublisher

    from .eventstore import InMemoryEventstoreRepository

    _recorder.start(request.node)
    return InMemoryEventstoreRepository(publisher=AsyncEventstreamPublisher(transport))


@pytest.fixture
def sync_eventstore(
    request: pytest.FixtureRequest,
    sync_transport: SyncInMemoryEventstreamTransport,
) -> SyncInMemoryEventstoreRepository:
    """Sync twin of ``eventstore``, publishing to ``sync_transport``."""
    from messagebus import SyncEventstreamPublisher

    from .eventstore import SyncInMemoryEventstoreRepository

    _recorder.start(request.node)
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
def bus(request: pytest.FixtureRequest) -> AsyncMessageBus[Any]:
    """An ``AsyncMessageBus`` with the async handlers of the ``messagebus_scan`` modules.

    The modules are scanned once per session; each test gets its own bus, so
    listeners a test adds or removes do not leak into the next one.
    """
    __tracebackhide__ = True
    from ._scan import make_bus

    return make_bus(request.config, "async", {})  # type: ignore[no-any-return]


@pytest.fixture
def sync_bus(request: pytest.FixtureRequest) -> SyncMessageBus[Any]:
    """A ``SyncMessageBus`` with the sync handlers of the ``messagebus_sync_scan`` modules."""
    __tracebackhide__ = True
    from ._scan import make_bus

    return make_bus(request.config, "sync", {})  # type: ignore[no-any-return]


def pytest_configure(config: pytest.Config) -> None:
    from ._render import set_verbosity
    from ._report import configure_strict

    config.addinivalue_line(
        "markers",
        "messagebus_strict(enabled=True): every message the test records and every event "
        "it streams must be checked by assert_messages, or the test errors at teardown. "
        "messagebus_strict(False) opts a test out of the messagebus_strict ini option.",
    )
    configure_strict(config)
    set_verbosity(config.get_verbosity())


def pytest_unconfigure(config: pytest.Config) -> None:
    from ._render import restore_verbosity

    restore_verbosity()


def pytest_assertrepr_compare(
    config: pytest.Config, op: str, left: object, right: object
) -> list[str] | None:
    # Without messagebus imported, no message can be on either side.
    if op != "==" or "messagebus" not in sys.modules:
        return None
    from .assertions import explain_equality

    return explain_equality(left, right, config.get_verbosity())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    from ._report import after_report

    report = yield
    after_report(item, report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> Generator[None, Any, Any]:
    from ._report import note_fixture

    value = yield
    note_fixture(request.node, fixturedef.argname, value)
    return value
