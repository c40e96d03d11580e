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
from ._report import after_report, check_strict, note_fixture
from ._stores import reset_class_level_stores

if TYPE_CHECKING:
    from collections.abc import Generator, Mapping

    from messagebus import (
        AbstractMessageSerializer,
        AsyncAbstractEventstreamTransport,
        AsyncMessageBus,
        SyncAbstractEventstreamTransport,
        SyncMessageBus,
    )

    from .eventstore import (
        InMemoryEventstoreRepository,
        SyncInMemoryEventstoreRepository,
    )
    from .transport import (
        InMemoryEventstreamTransport,
        SyncInMemoryEventstreamTransport,
    )
    from .uow import InMemoryUnitOfWork, SyncInMemoryUnitOfWork

# The given phase and deterministic ids live in their own plugin modules.
pytest_plugins = [
    "pytest_messagebus_eventstore._given",
    "pytest_messagebus_eventstore._deterministic",
]


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


_hooks_key = pytest.StashKey[Any]()


def _call_hook(name: str, **kwargs: Any) -> Any:
    # Through the test's own hook proxy, so that a conftest's implementation
    # applies to the tests of its directory only.
    item = _running[-1]
    # ``item.ihook`` looks up the item's conftests on every access: once per test.
    hooks = item.stash.get(_hooks_key, None)
    if hooks is None:
        hooks = item.stash[_hooks_key] = item.ihook
    return getattr(hooks, name)(config=item.config, **kwargs)


def _merged_repositories(name: str) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    # The first implementation called (the most specific) wins a clash.
    for contributed in reversed(_call_hook(name)):
        merged.update(contributed)
    return merged


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
        result = yield
        check_strict(item)
        return result
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
def transport() -> InMemoryEventstreamTransport | AsyncAbstractEventstreamTransport:
    """An in-memory eventstream transport; ``transport.events`` lists what was sent.

    The events are the serialized published messages, sent when a transaction
    of ``uow`` commits. A ``pytest_messagebus_make_transport`` hook replaces it.
    """
    from .transport import InMemoryEventstreamTransport

    custom = _call_hook("pytest_messagebus_make_transport")
    transport = InMemoryEventstreamTransport() if custom is None else custom
    # Remembered for the report section: a failing setup has no funcargs yet.
    note_fixture(_running[-1], "transport", transport)
    return transport


@pytest.fixture
def sync_transport() -> SyncInMemoryEventstreamTransport | SyncAbstractEventstreamTransport:
    """Sync twin of ``transport``, fed by ``sync_uow``."""
    from .transport import SyncInMemoryEventstreamTransport

    custom = _call_hook("pytest_messagebus_make_sync_transport")
    transport = SyncInMemoryEventstreamTransport() if custom is None else custom
    note_fixture(_running[-1], "sync_transport", transport)
    return transport


@pytest.fixture
def messagebus_serializer() -> AbstractMessageSerializer:
    """The serializer of the eventstream publishers, messagebus's own by default.

    A ``pytest_messagebus_make_serializer`` hook or an override of this fixture
    replaces it; it is also ``eventstore.publisher.serializer``.
    """
    from messagebus.service.eventstream import MessageSerializer

    custom = _call_hook("pytest_messagebus_make_serializer")
    return MessageSerializer() if custom is None else custom


@pytest.fixture
def eventstore(
    transport: AsyncAbstractEventstreamTransport,
    messagebus_serializer: AbstractMessageSerializer,
) -> InMemoryEventstoreRepository:
    """The in-memory message store of ``uow``, publishing to ``transport``.

    ``eventstore.messages`` lists every message the bus handled in this test,
    in order. It is emptied after each test.
    """
    from messagebus import AsyncEventstreamPublisher

    from .eventstore import InMemoryEventstoreRepository

    _recorder.start(_running[-1])
    return InMemoryEventstoreRepository(
        publisher=AsyncEventstreamPublisher(transport, messagebus_serializer)
    )


@pytest.fixture
def sync_eventstore(
    sync_transport: SyncAbstractEventstreamTransport,
    messagebus_serializer: AbstractMessageSerializer,
) -> SyncInMemoryEventstoreRepository:
    """Sync twin of ``eventstore``, publishing to ``sync_transport``."""
    from messagebus import SyncEventstreamPublisher

    from .eventstore import SyncInMemoryEventstoreRepository

    _recorder.start(_running[-1])
    return SyncInMemoryEventstoreRepository(
        publisher=SyncEventstreamPublisher(sync_transport, messagebus_serializer)
    )


@pytest.fixture
def messagebus_repositories() -> Mapping[str, Any]:
    """The repositories of ``uow``, by attribute name: what the hooks contribute.

    By default, the merge of every ``pytest_messagebus_repositories`` hook
    result (empty without hooks). Override it in your conftest to replace it::

        @pytest.fixture
        def messagebus_repositories():
            return {"books": FakeBookRepository()}
    """
    return _merged_repositories("pytest_messagebus_repositories")


@pytest.fixture
def messagebus_sync_repositories() -> Mapping[str, Any]:
    """The repositories of ``sync_uow``: the ``pytest_messagebus_sync_repositories`` hooks'."""
    return _merged_repositories("pytest_messagebus_sync_repositories")


@pytest.fixture
def uow(
    eventstore: InMemoryEventstoreRepository,
    messagebus_repositories: Mapping[str, Any],
) -> InMemoryUnitOfWork:
    """An ``InMemoryUnitOfWork`` over ``eventstore`` and ``messagebus_repositories``.

    Use it as ``async with uow as transaction``; a rollback restores the
    repositories' class-level stores as they were when the transaction began.
    A ``pytest_messagebus_make_uow`` hook builds another unit of work instead.
    """
    from .uow import InMemoryUnitOfWork

    custom = _call_hook(
        "pytest_messagebus_make_uow",
        eventstore=eventstore,
        repositories=messagebus_repositories,
    )
    if custom is not None:
        return custom  # type: ignore[no-any-return]
    return InMemoryUnitOfWork(eventstore=eventstore, **messagebus_repositories)


@pytest.fixture
def sync_uow(
    sync_eventstore: SyncInMemoryEventstoreRepository,
    messagebus_sync_repositories: Mapping[str, Any],
) -> SyncInMemoryUnitOfWork:
    """Sync twin of ``uow``, over ``sync_eventstore`` and ``messagebus_sync_repositories``."""
    from .uow import SyncInMemoryUnitOfWork

    custom = _call_hook(
        "pytest_messagebus_make_sync_uow",
        eventstore=sync_eventstore,
        repositories=messagebus_sync_repositories,
    )
    if custom is not None:
        return custom  # type: ignore[no-any-return]
    return SyncInMemoryUnitOfWork(eventstore=sync_eventstore, **messagebus_sync_repositories)


@pytest.fixture
def messagebus_dependencies() -> Mapping[str, type[Any]]:
    """Dependencies of the ``bus`` handlers: parameter name -> dependency class.

    Empty by default. Override it for handlers taking extra parameters; the
    bus instantiates each class (an ``AsyncDependency``) once per ``handle``::

        @pytest.fixture
        def messagebus_dependencies():
            return {"notifier": FakeNotifier}
    """
    return {}


@pytest.fixture
def messagebus_sync_dependencies() -> Mapping[str, type[Any]]:
    """Sync twin of ``messagebus_dependencies``, for ``sync_bus`` (``SyncDependency`` classes)."""
    return {}


@pytest.fixture
def bus(messagebus_dependencies: Mapping[str, type[Any]]) -> AsyncMessageBus[Any]:
    """An ``AsyncMessageBus`` with the async handlers of the ``messagebus_scan`` modules.

    The modules are scanned once per session; each test gets its own bus, so
    listeners a test adds or removes do not leak into the next one. Handlers'
    extra parameters are filled from ``messagebus_dependencies``.
    """
    __tracebackhide__ = True
    from ._scan import make_bus

    return make_bus(_running[-1].config, "async", messagebus_dependencies)  # type: ignore[no-any-return]


@pytest.fixture
def sync_bus(messagebus_sync_dependencies: Mapping[str, type[Any]]) -> SyncMessageBus[Any]:
    """A ``SyncMessageBus`` with the sync handlers of the ``messagebus_sync_scan`` modules."""
    __tracebackhide__ = True
    from ._scan import make_bus

    return make_bus(_running[-1].config, "sync", messagebus_sync_dependencies)  # type: ignore[no-any-return]


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
    report = yield
    after_report(item, report)
    return report
