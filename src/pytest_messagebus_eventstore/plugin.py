"""pytest plugin: fixtures, ini options and the per-test reset of in-memory stores.

messagebus is imported only by the fixtures that need it, so a project that
has the plugin installed and never uses it does not pay for the import.
"""

from __future__ import annotations

import inspect
import re
import sys
from collections.abc import Mapping
from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import pytest

from . import (
    _awaited,
    _deterministic,
    _examples,
    _given,
    _recorder,
    _state,
    _stores,
    _strict,
)

# The fixtures and the hook of the given phase, and the transaction fixtures,
# registered with this module's: each module registered as a plugin costs the
# start-up of every session a scan of its names.
from ._given import (  # noqa: F401
    _messagebus_given_phase,
    _messagebus_sync_given_phase,
    messagebus_given,
    messagebus_sync_given,
    pytest_exception_interact,
)
from ._handle import (  # noqa: F401
    messagebus_handle,
    messagebus_read,
    messagebus_sync_handle,
    messagebus_sync_read,
    sync_tuow,
    tuow,
)
from ._markers import marked_functions, switches
from ._report import add_section
from ._state import PluginState, RunningTest, plugin_state_key, running
from ._stores import close_layer, open_layer, reset_class_level_stores

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

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


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


_T = TypeVar("_T")
_METRICS_FIXTURE = "messagebus_metrics"
_METRICS_HOOK = "pytest_messagebus_make_metrics_store"


def _call_hook(name: str, **kwargs: Any) -> Any:
    """The result of hook ``name`` for the running test; None if none implements it."""
    run = running[-1]
    config = run.item.config
    # Most projects implement none of the hooks: calling one costs more than
    # this check, and asking pluggy costs more than a dict. Kept until a plugin
    # registers (see pytest_plugin_registered).
    found = run.plugin.hooked.get(name)
    if found is None:
        found = run.plugin.implements(config, name)
    if not found:
        return None
    # Through the test's own hook proxy, so that a conftest's implementation
    # applies to the tests of its directory only. ``item.ihook`` looks up the
    # item's conftests on every access: once per class or module, as its
    # tests share their conftests (by identity: hashing a node or a path is
    # a Python call).
    by_parent = run.plugin.hooks_by_parent
    hooks = by_parent.get(id(run.item.parent))
    if hooks is None:
        hooks = by_parent[id(run.item.parent)] = run.item.ihook
    caller = getattr(hooks, name)
    implementations = caller.get_hookimpls()
    if config.option.debug or any(
        implementation.wrapper or implementation.hookwrapper for implementation in implementations
    ):
        # Through pluggy: it runs the wrappers, and traces the call for --debug.
        return caller(config=config, **kwargs)
    # What pluggy does for plain implementations, called here: on
    # benchmarks/user_suite.py, a pytest_messagebus_repositories hook then
    # costs each test 23 k instructions less (4,414.9 M against 4,403.3 M).
    kwargs["config"] = config
    firstresult = caller.spec is not None and caller.spec.opts.get("firstresult", False)
    results = []
    # The last registered first, as pluggy calls them.
    for implementation in reversed(implementations):
        result = implementation.function(*[kwargs[arg] for arg in implementation.argnames])
        if result is not None:
            if firstresult:
                return result
            results.append(result)
    return None if firstresult else results


def _merged_repositories(fixture: str) -> dict[str, Any]:
    """What the hooks named after ``fixture`` (``pytest_`` + its name) contribute."""
    __tracebackhide__ = True
    merged: dict[str, Any] = {}
    hook = f"pytest_{fixture}"
    # The first implementation called (the most specific) wins a clash.
    for contributed in reversed(_call_hook(hook) or ()):
        # Most are dicts: the check against Mapping costs more.
        if contributed.__class__ is not dict and not isinstance(contributed, Mapping):
            from ._misuse import not_a_mapping

            not_a_mapping(hook, contributed)
        merged.update(contributed)
    return merged


# Fixtures a project may override. Their consumers do not depend on them: each
# fixture a test sets up costs more than everything else the plugin does for
# it, so a consumer computes the default itself, and asks pytest for the
# fixture only where a conftest, module or class overrides it, or where the
# test requests or parametrizes it itself.
_OVERRIDABLE = frozenset(
    {
        "messagebus_serializer",
        "messagebus_repositories",
        "messagebus_sync_repositories",
        "messagebus_dependencies",
        "messagebus_sync_dependencies",
    }
)


def _overridden_at(node: Any) -> Mapping[str, pytest.FixtureDef[Any] | None]:
    """The overridable fixtures that ``node`` sees defined elsewhere than in this module.

    Each with its definition if the plugin may call it itself (see _plain),
    else None: pytest sets it up.
    """
    manager = getattr(node.session, "_fixturemanager", None)
    try:
        overrides = {}
        for name in _OVERRIDABLE:
            # The most specific definition comes last.
            definition = manager.getfixturedefs(name, node)[-1]  # type: ignore[union-attr]
            if getattr(definition.func, "__module__", None) != __name__:
                overrides[name] = definition if _plain(definition, node.config) else None
    except Exception:  # pytest < 8.1 looks definitions up by node id: ask it every time
        return _ASK_PYTEST
    return overrides


_ASK_PYTEST: Mapping[str, None] = MappingProxyType(dict.fromkeys(_OVERRIDABLE))


def _plain(definition: pytest.FixtureDef[Any], config: pytest.Config) -> bool:
    """Whether calling the fixture function is all that pytest's set-up of it would do.

    A function of no argument, for one test, that neither yields nor awaits:
    the usual ``return {"books": FakeBookRepository()}`` override. Called
    directly, it costs a test about 180 k instructions less than a fixture
    set up by pytest (benchmarks/user_suite.py's fixture suite: 4,421.9 M
    against 4,331.9 M). What pytest would show of its set-up
    (``--setup-show``) is kept.
    """
    func = definition.func
    option = config.option
    return (
        inspect.isfunction(func)
        and not (
            inspect.isgeneratorfunction(func)
            or inspect.iscoroutinefunction(func)
            or inspect.isasyncgenfunction(func)
        )
        and not inspect.signature(func).parameters
        and not definition.argnames
        and not definition.params
        and definition.scope == "function"
        and not any(
            getattr(option, shown, False) for shown in ("setupshow", "setuponly", "setupplan")
        )
    )


def _overridden_above(run: RunningTest) -> Mapping[str, pytest.FixtureDef[Any] | None]:
    """The overridable fixtures defined for the running test's class, module or directory."""
    item = run.item
    # Fixtures are defined at the level of a class, module or conftest:
    # siblings see the same ones. By identity: hashing a node is a Python call.
    by_parent = run.plugin.overridden_at
    above = by_parent.get(id(item.parent))
    if above is None:
        above = by_parent[id(item.parent)] = _overridden_at(item.parent)
    run.overridden_above = above
    return above


def _overridable(name: str, default: Callable[[], _T]) -> _T:
    """The value of fixture ``name`` for the running test: ``default()`` unless overridden."""
    __tracebackhide__ = True
    run = running[-1]
    above = run.overridden_above
    if above is None:
        above = _overridden_above(run)
    # Pytest's also when the test requests or parametrizes it itself.
    if name not in run.item.fixturenames:  # type: ignore[attr-defined]
        if name not in above:
            return default()
        definition = above[name]
        if definition is not None:
            # Once per test, as pytest would: a second consumer gets the same value.
            called = run.called_fixtures
            if called is None:
                called = run.called_fixtures = {}
            found = called.get(name)
            if found is None:
                found = called[name] = (definition, definition.func())
            return found[1]  # type: ignore[no-any-return]
    return run.item._request.getfixturevalue(name)  # type: ignore[attr-defined,no-any-return]


_NO_DEPENDENCIES: Mapping[str, type[Any]] = MappingProxyType({})


def _no_dependencies() -> Mapping[str, type[Any]]:
    return _NO_DEPENDENCIES


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
    parser.addini(_SYNC_DIRS, type="linelist", default=[], help=_SYNC_DIRS_HELP)
    parser.addini(_strict.INI, type="bool", default=False, help=_strict.INI_HELP)
    parser.addini(_deterministic.INI, type="bool", default=False, help=_deterministic.INI_HELP)
    _declare_the_loop_scope_for_pytest_asyncio_0_23(parser)


def _declare_the_loop_scope_for_pytest_asyncio_0_23(parser: pytest.Parser) -> None:
    """Declares ``asyncio_default_fixture_loop_scope`` where pytest-asyncio does not.

    The README's ini sets the option, which pytest-asyncio 0.24 introduced and
    later releases warn about when unset. pytest-asyncio 0.23 calls it unknown,
    which ``--strict-config`` makes an error; declared here, where it does
    nothing, the same ini works on every release the plugin supports.
    """
    import pytest_asyncio

    # "0.23.8", and pre-releases such as "2.0.0rc1" or "1.1.0a1.dev3".
    major, minor = re.match(r"(\d+)\.(\d+)", pytest_asyncio.__version__).groups()  # type: ignore[union-attr]
    if (int(major), int(minor)) < (0, 24):
        parser.addini(
            "asyncio_default_fixture_loop_scope",
            help="pytest-asyncio 0.24 and later: the default event loop scope of "
            "async fixtures (declared by pytest-messagebus-eventstore for 0.23, "
            "where it has no effect).",
        )


# Here rather than in _twins, which imports this module: most sessions list no directory.
_SYNC_DIRS = "messagebus_sync_dirs"
_SYNC_DIRS_HELP = (
    "messagebus: directories (relative to the rootdir) of a sync test tree generated "
    "with unasync, one per line: in them, uow, bus, transport, eventstore, "
    "messagebus_repositories, messagebus_dependencies, messagebus_given, tuow, "
    "messagebus_handle and messagebus_read are the sync fixtures."
)


@pytest.hookimpl(tryfirst=True)
def pytest_plugin_registered(plugin: object, manager: pytest.PytestPluginManager) -> None:
    if running:
        # During the tests: it may implement the plugin's hooks.
        running[-1].plugin.hooked.clear()
    # First: pytest reads a conftest's fixtures when it registers it (before 9.1).
    path = getattr(plugin, "__file__", None)
    if not isinstance(path, str) or not path.endswith("conftest.py"):
        return
    config = manager.get_plugin("pytestconfig")
    if not isinstance(config, pytest.Config) or not config.getini(_SYNC_DIRS):
        return
    # Not ``from . import``: after an in-process pytest run, the package may
    # still hold a module that run imported and then dropped.
    from ._twins import add_to, directories

    if Path(path).resolve().parent in directories(config, _SYNC_DIRS):
        add_to(plugin)  # type: ignore[arg-type]


def pytest_report_header(config: pytest.Config) -> list[str]:
    # Read from the package once imported: the metadata lookup costs more.
    messagebus_version = getattr(sys.modules.get("messagebus"), "__version__", None)
    if messagebus_version is None:
        try:
            messagebus_version = version("messagebus")
        except PackageNotFoundError:
            messagebus_version = "not installed"
    scan = ", ".join(config.getini("messagebus_scan")) or "(none)"
    sync_scan = ", ".join(config.getini("messagebus_sync_scan")) or "(none)"
    return [f"messagebus: {messagebus_version}, scan: {scan}, sync scan: {sync_scan}"]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    plugin = item.config.stash[plugin_state_key]
    run = RunningTest(item, plugin)
    running.append(run)
    # What the test reassigns on a repository class is put back after it.
    _stores.in_test = True
    if _stores.opening:
        close_layer()
    if id(item) in plugin.hypothesis_tests:
        run.unwrap = _examples.isolate_examples(run)


# First: the hook stops at the first implementation that returns the value.
@pytest.hookimpl(tryfirst=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest) -> Any:
    # A plain hook, not a wrapper around each fixture of each test: the set-up
    # of a wider-scoped fixture ends when the next fixture's begins, or when the
    # test's set-up does (see pytest_runtest_logreport).
    if _stores.opening:
        close_layer()
    run = running[-1] if running else None
    called = (
        run.called_fixtures.get(fixturedef.argname)
        if run is not None and run.called_fixtures
        else None
    )
    if called is not None and called[0] is fixturedef:
        # Asked of pytest after the plugin called it (request.getfixturevalue):
        # the same value, cached as pytest caches what its own set-up returns.
        # The hook gets the fixture's own request, a SubRequest.
        key = fixturedef.cache_key(request)  # type: ignore[arg-type]
        fixturedef.cached_result = (called[1], key, None)
        return called[1]
    # Outside a test (a plugin's own set-up), nothing is cached.
    wider_scoped = run.plugin.wider_scoped if run is not None else {}
    wider = wider_scoped.get(fixturedef)
    if wider is None:
        wider = wider_scoped[fixturedef] = fixturedef.scope != "function"
    if wider:
        # What it writes into the stores is the baseline of its scope.
        layer = open_layer()
        fixturedef.addfinalizer(lambda: _stores.pop_layer(layer))
    return None


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    # After the runner's own hook: the fixtures have finished their teardown
    # (had one failed, the test errors already, and this does not run).
    run = _state.of(item)
    if run is not None:
        if run.awaitables:
            _awaited.check(run)
        # A test that is not strict may still have marked itself while it ran.
        if run.call_passed and (run.strict or item.own_markers):
            _strict.check(run)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # First, so that the other plugins (terminal, junitxml, xdist) see the
    # section added to a failure. On the xdist controller, no test runs.
    if not running:
        return
    run = running[-1]
    if report.location is not run.location and report.nodeid != run.item.nodeid:
        return
    when = report.when
    if when == "setup":
        # The set-up is over: a wider-scoped fixture set up last is too. Here
        # rather than in a last pytest_runtest_setup: one hook call less per test.
        if _stores.opening:
            close_layer()
    elif when == "call":
        run.call_passed = report.outcome == "passed"
    if report.outcome == "failed" and when != "teardown":
        add_section(run, report)
    if when == "teardown":
        # Reported even when a teardown failed: put everything back for the next test.
        running.pop()
        _after_test(run)


def _after_test(run: RunningTest) -> None:
    if run.unwrap is not None:
        run.unwrap()
    reset_class_level_stores()
    _stores.in_test = False
    for bus in run.plugin.buses:
        bus.reset()
    run.finish()


_CLASSES = "pytest_messagebus_eventstore._classes"
_modules = sys.modules


def _classes() -> ModuleType:
    # Looked up on each use, not kept: a test that runs pytest in-process
    # (pytester) may import the package's modules anew, and the fixtures must
    # build from the classes a test imports. The fixtures look in sys.modules
    # themselves first: a call per fixture costs more than the lookup.
    return sys.modules.get(_CLASSES) or import_module(_CLASSES)


@pytest.fixture
def transport() -> InMemoryEventstreamTransport | AsyncAbstractEventstreamTransport:
    """An in-memory eventstream transport; ``transport.events`` lists what was sent.

    The events are the serialized published messages, sent when a transaction
    of ``uow`` commits. A ``pytest_messagebus_make_transport`` hook replaces it.
    """
    custom = _call_hook("pytest_messagebus_make_transport")
    transport: InMemoryEventstreamTransport | AsyncAbstractEventstreamTransport = (
        (_modules.get(_CLASSES) or _classes()).InMemoryEventstreamTransport()
        if custom is None
        else _checked("pytest_messagebus_make_transport", custom)
    )
    # Remembered for the report section: a failing setup has no funcargs yet.
    running[-1].transports["transport"] = transport
    return transport


@pytest.fixture
def sync_transport() -> SyncInMemoryEventstreamTransport | SyncAbstractEventstreamTransport:
    """Sync twin of ``transport``, fed by ``sync_uow``."""
    custom = _call_hook("pytest_messagebus_make_sync_transport")
    transport: SyncInMemoryEventstreamTransport | SyncAbstractEventstreamTransport = (
        (_modules.get(_CLASSES) or _classes()).SyncInMemoryEventstreamTransport()
        if custom is None
        else _checked("pytest_messagebus_make_sync_transport", custom)
    )
    running[-1].transports["sync_transport"] = transport
    return transport


def _default_serializer() -> AbstractMessageSerializer:
    # One per test, shared by both publishers and the fixture.
    run = running[-1]
    serializer = run.serializer
    if serializer is None:
        custom = _call_hook("pytest_messagebus_make_serializer")
        serializer = run.serializer = (
            (_modules.get(_CLASSES) or _classes()).MessageSerializer()
            if custom is None
            else _checked("pytest_messagebus_make_serializer", custom)
        )
    return serializer


def _serializer() -> AbstractMessageSerializer:
    return _overridable("messagebus_serializer", _default_serializer)


@pytest.fixture
def messagebus_serializer() -> AbstractMessageSerializer:
    """The serializer of the eventstream publishers, messagebus's own by default.

    A ``pytest_messagebus_make_serializer`` hook or an override of this fixture
    replaces it; it is also ``eventstore.publisher.serializer``.
    """
    return _default_serializer()


@pytest.fixture
def eventstore(transport: AsyncAbstractEventstreamTransport) -> InMemoryEventstoreRepository:
    """The in-memory message store of ``uow``, publishing to ``transport``.

    ``eventstore.messages`` lists every message the bus handled in this test,
    in order. It is emptied after each test. Its publisher serializes with
    ``messagebus_serializer``.
    """
    running[-1].record()
    classes = _modules.get(_CLASSES) or _classes()
    store: InMemoryEventstoreRepository = classes.InMemoryEventstoreRepository(
        publisher=classes.AsyncEventstreamPublisher(transport, _serializer())
    )
    return store


@pytest.fixture
def sync_eventstore(
    sync_transport: SyncAbstractEventstreamTransport,
) -> SyncInMemoryEventstoreRepository:
    """Sync twin of ``eventstore``, publishing to ``sync_transport``."""
    running[-1].record()
    classes = _modules.get(_CLASSES) or _classes()
    store: SyncInMemoryEventstoreRepository = classes.SyncInMemoryEventstoreRepository(
        publisher=classes.SyncEventstreamPublisher(sync_transport, _serializer())
    )
    return store


@pytest.fixture
def messagebus_repositories() -> Mapping[str, Any]:
    """The repositories of ``uow``, by attribute name: what the hooks contribute.

    By default, the merge of every ``pytest_messagebus_repositories`` hook
    result (empty without hooks). Override it in your conftest to replace it::

        @pytest.fixture
        def messagebus_repositories():
            return {"books": FakeBookRepository()}
    """
    return _merged_repositories("messagebus_repositories")


@pytest.fixture
def messagebus_sync_repositories() -> Mapping[str, Any]:
    """The repositories of ``sync_uow``: the ``pytest_messagebus_sync_repositories`` hooks'."""
    return _merged_repositories("messagebus_sync_repositories")


def _checked(hook: str, result: _T, **kwargs: Any) -> _T:
    """``result`` of the make hook ``hook``, if the fixture can use it (see _misuse).

    ``like=`` names the hook whose kind of result is expected, if another.
    """
    __tracebackhide__ = True
    # Imported here: most sessions implement no make hook.
    from ._misuse import checked

    return checked(hook, result, **kwargs)


def _unit_of_work(
    repositories_fixture: str,
    make_hooks: tuple[str, ...],
    default: str,
    store: Any,
    *,
    like: str | None = None,
    default_repositories: Callable[[], Mapping[str, Any]] | None = None,
) -> Any:
    """What the first ``make_uow`` hook builds over ``store``, else the in-memory class ``default``.

    The repositories are the fixture ``repositories_fixture``'s: by default
    ``default_repositories()``, else the merge of the hooks named after the
    fixture. ``like`` names the hook whose kind of result is expected, if another.
    """
    __tracebackhide__ = True
    repositories = _overridable(
        repositories_fixture,
        default_repositories or (lambda: _merged_repositories(repositories_fixture)),
    )
    # The test's units of work share one metrics store, if something reads it:
    # else (and before messagebus 0.14) they keep messagebus's, which costs a
    # test nothing.
    run = running[-1]
    metrics = run.metrics
    if metrics is None and (
        _METRICS_FIXTURE in run.item.fixturenames  # type: ignore[attr-defined]
        or run.plugin.hooked.get(_METRICS_HOOK) is not False
    ):
        module = "pytest_messagebus_eventstore._metrics"
        metrics = (_modules.get(module) or import_module(module)).of_test(run, _call_hook)
    if metrics is None or metrics is False:
        # False, not None: a later request of the fixture comes too late.
        run.metrics = False
        metrics = None
    built = {"eventstore": store, "repositories": repositories, "metrics_store": metrics}
    for make_hook in make_hooks:
        custom = _call_hook(make_hook, **built)
        if custom is not None:
            return _checked(make_hook, custom, like=like, **built)
    unit_of_work = getattr((_modules.get(_CLASSES) or _classes()), default)
    try:
        if metrics is None:
            return unit_of_work(eventstore=store, **repositories)
        return unit_of_work(eventstore=store, metrics_store=metrics, **repositories)
    except TypeError as error:
        refused = error
    # Out of the except block: the failure shows no chained error.
    from ._misuse import refuse_repositories

    refuse_repositories(repositories_fixture, unit_of_work, repositories)
    raise refused


@pytest.fixture
def uow(eventstore: InMemoryEventstoreRepository) -> InMemoryUnitOfWork:
    """An ``InMemoryUnitOfWork`` over ``eventstore`` and ``messagebus_repositories``.

    Use it as ``async with uow as transaction``; a rollback restores the
    repositories' class-level stores as they were when the transaction began.
    A ``pytest_messagebus_make_uow`` hook builds another unit of work instead.
    """
    unit_of_work: InMemoryUnitOfWork = _unit_of_work(
        "messagebus_repositories", ("pytest_messagebus_make_uow",), "InMemoryUnitOfWork", eventstore
    )
    return unit_of_work


@pytest.fixture
def sync_uow(sync_eventstore: SyncInMemoryEventstoreRepository) -> SyncInMemoryUnitOfWork:
    """Sync twin of ``uow``, over ``sync_eventstore`` and ``messagebus_sync_repositories``."""
    unit_of_work: SyncInMemoryUnitOfWork = _unit_of_work(
        "messagebus_sync_repositories",
        ("pytest_messagebus_make_sync_uow",),
        "SyncInMemoryUnitOfWork",
        sync_eventstore,
    )
    return unit_of_work


@pytest.fixture
def messagebus_dependencies() -> Mapping[str, type[Any]]:
    """Dependencies of the ``bus`` handlers: parameter name -> dependency class.

    Empty by default. Override it for handlers taking extra parameters; the
    bus instantiates each class (an ``AsyncDependency``) once per ``handle``::

        @pytest.fixture
        def messagebus_dependencies():
            return {"notifier": FakeNotifier}
    """
    return _NO_DEPENDENCIES


@pytest.fixture
def messagebus_sync_dependencies() -> Mapping[str, type[Any]]:
    """Sync twin of ``messagebus_dependencies``, for ``sync_bus`` (``SyncDependency`` classes)."""
    return _NO_DEPENDENCIES


@pytest.fixture
def messagebus_metrics() -> Any:
    """The test's metrics store: what messagebus counted in ``uow`` and ``sync_uow``.

    An ``InMemoryMetricsStore`` unless a ``pytest_messagebus_make_metrics_store``
    hook gives another; fresh for each test, and a rollback does not undo its
    counts. Needs messagebus 0.14 or later: on older versions the test fails.
    """
    __tracebackhide__ = True
    module = "pytest_messagebus_eventstore._metrics"
    return (_modules.get(module) or import_module(module)).fixture_value(running[-1], _call_hook)


def _session_bus(
    flavour: Literal["async", "sync"],
    fixture: str,
    dependencies: Callable[[], Mapping[str, type[Any]]] | None = None,
) -> Any:
    """The session's bus of ``flavour``, with the running test's dependencies.

    They are the fixture ``fixture``'s, by default ``dependencies()`` (none).
    """
    __tracebackhide__ = True
    from ._scan import make_bus

    def dependencies_of() -> Mapping[str, type[Any]]:
        # Outside a test (a session fixture's teardown), there are none.
        if not running:
            return _NO_DEPENDENCIES
        return _overridable(fixture, dependencies or _no_dependencies)

    run = running[-1]
    bus = make_bus(run.item.config, flavour, dependencies_of, fixture)
    run.plugin.buses.append(bus)
    return bus


@pytest.fixture
def _messagebus_deterministic(request: pytest.FixtureRequest) -> Iterator[None]:
    """Numbers the messages of a ``messagebus_deterministic`` test."""
    yield from _deterministic.numbered(request.node)


@pytest.fixture(scope="session")
def bus() -> AsyncMessageBus[Any]:
    """An ``AsyncMessageBus`` with the async handlers of the ``messagebus_scan`` modules.

    The modules are scanned once, and the bus built once, per session; after
    each test it is put back as scanned, so listeners or attributes a test
    adds or removes do not leak into the next one. Handlers' extra parameters
    are filled from the running test's ``messagebus_dependencies``.
    """
    __tracebackhide__ = True
    return _session_bus("async", "messagebus_dependencies")  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def sync_bus() -> SyncMessageBus[Any]:
    """A ``SyncMessageBus`` with the sync handlers of the ``messagebus_sync_scan`` modules."""
    __tracebackhide__ = True
    return _session_bus("sync", "messagebus_sync_dependencies")  # type: ignore[no-any-return]


def pytest_configure(config: pytest.Config) -> None:
    from ._render import set_verbosity

    state = config.stash[plugin_state_key] = PluginState()
    state.session = _stores.Session()
    config.addinivalue_line("markers", _strict.MARKER_HELP)
    config.addinivalue_line("markers", _given.MARKER_HELP)
    config.addinivalue_line("markers", _deterministic.MARKER_HELP)
    _strict.configure(config)
    _deterministic.configure(config)
    if config.getini(_SYNC_DIRS):
        from ._twins import directories

        # Checked here too: a listed directory whose conftest is never
        # collected would otherwise go unnoticed.
        directories(config, _SYNC_DIRS)
    set_verbosity(config.get_verbosity())


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Last, so that the tests other plugins add or deselect are accounted for.
    marked = marked_functions(items, (_given.MARKER, _deterministic.MARKER, _strict.MARKER))
    # Bad arguments are collection errors; their tests leave ``items``.
    enabled = switches(config, items, marked, (_deterministic.MARKER, _strict.MARKER))
    _given.add_phase_fixtures(marked[_given.MARKER])
    _deterministic.add_numbering_fixture(
        config, items, marked[_deterministic.MARKER], enabled[_deterministic.MARKER]
    )
    _strict.note_markers(config, enabled[_strict.MARKER])
    # By identity, as the strict tests: the items live as long as the session.
    config.stash[plugin_state_key].hypothesis_tests = {
        id(item) for item in items if _examples.is_hypothesis_test(item)
    }


def pytest_unconfigure(config: pytest.Config) -> None:
    from ._render import restore_verbosity

    restore_verbosity()
    # Tests whose teardown was never reported (the session was interrupted).
    for run in [run for run in running if run.item.config is config]:
        running.remove(run)
        run.finish()
    _recorder.uninstall()
    state = config.stash.get(plugin_state_key, None)
    if state is not None and state.session is not None:
        state.session.end()
        state.session = None


def pytest_assertrepr_compare(
    config: pytest.Config, op: str, left: object, right: object
) -> list[str] | None:
    # Without messagebus imported, no message can be on either side.
    if op != "==" or "messagebus" not in sys.modules:
        return None
    from .assertions import explain_equality

    return explain_equality(left, right, config.get_verbosity())
