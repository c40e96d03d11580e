"""Sync twins under the async names, for a test suite generated with unasync.

messagebus projects often write their async code and tests, and generate the
sync ones with unasync: the generated tests request ``uow``, ``bus`` and
``transport``, and the generated conftest overrides ``messagebus_repositories``
or implements ``pytest_messagebus_repositories`` (unasync renames classes, not
fixtures or hooks), with sync classes.

The directories listed in the ``messagebus_sync_dirs`` ini option are such
trees. Their ``conftest.py`` gets, when pytest registers it and before pytest
reads its fixtures, the fixtures below, under the async names, unless it
defines one of those names itself. They are then pytest's own per-directory
fixtures: the tests of other directories keep the async ones, and pay nothing
for the twins. In those directories the async-named hooks build sync pieces,
and the ``pytest_messagebus_sync_*`` hooks are asked first.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

import pytest

from ._given import listed_with_the_plugin, sync_given, sync_phase
from ._handle import sync_handler, sync_open_transaction, sync_reader
from ._state import running

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from pathlib import Path
    from types import ModuleType

# By its name: after an in-process pytest run, the package may still hold a
# module that run imported and then dropped.
_plugin = import_module(f"{__package__}.plugin")

_directories_key = pytest.StashKey["frozenset[Path]"]()


def directories(config: pytest.Config, option: str) -> frozenset[Path]:
    """The directories of the ini ``option``, checked: each exists and has a conftest.py."""
    found = config.stash.get(_directories_key, None)
    if found is not None:
        return found
    listed = []
    for entry in config.getini(option):
        directory = (config.rootpath / entry).resolve()
        if not directory.is_dir():
            raise pytest.UsageError(
                f"{option}: no directory {entry} under the rootdir {config.rootpath}; list the "
                "directories of the sync test tree, relative to the rootdir."
            )
        if not (directory / "conftest.py").is_file():
            raise pytest.UsageError(
                f"{option}: {entry} has no conftest.py; the sync fixtures under the async names "
                f"are defined in it. Add {entry}/conftest.py (an empty file will do), or "
                "generate it from the async tree's."
            )
        listed.append(directory)
    found = config.stash[_directories_key] = frozenset(listed)
    return found


def add_to(conftest: ModuleType) -> None:
    """Define the twins in ``conftest``, but for the names it defines itself."""
    defined = vars(conftest)
    for name, fixture in _TWINS.items():
        if name not in defined:
            setattr(conftest, name, fixture)


def _repositories() -> dict[str, Any]:
    # Both hooks: a shared conftest may implement the sync one.
    merged: dict[str, Any] = _plugin._merged_repositories("messagebus_repositories")
    merged.update(_plugin._merged_repositories("messagebus_sync_repositories"))
    return merged


def _dependencies() -> Mapping[str, type[Any]]:
    found: Mapping[str, type[Any]] = _plugin._overridable(
        "messagebus_sync_dependencies", _plugin._no_dependencies
    )
    return found


@pytest.fixture(name="transport")
@listed_with_the_plugin
def _transport() -> Any:
    """Sync twin of ``transport``, in a directory of the ``messagebus_sync_dirs`` ini option."""
    __tracebackhide__ = True
    like = "pytest_messagebus_make_sync_transport"
    for hook in (like, "pytest_messagebus_make_transport"):
        custom = _plugin._call_hook(hook)
        if custom is not None:
            transport = _plugin._checked(hook, custom, like=like)
            break
    else:
        transport = _plugin._classes().SyncInMemoryEventstreamTransport()
    running[-1].transports["transport"] = transport
    return transport


@pytest.fixture(name="eventstore")
@listed_with_the_plugin
def _eventstore(transport: Any) -> Any:
    """Sync twin of ``eventstore``, publishing to ``transport``."""
    running[-1].record()
    classes = _plugin._classes()
    return classes.SyncInMemoryEventstoreRepository(
        publisher=classes.SyncEventstreamPublisher(transport, _plugin._serializer())
    )


@pytest.fixture(name="messagebus_repositories")
@listed_with_the_plugin
def _messagebus_repositories() -> Mapping[str, Any]:
    """The repositories of the sync ``uow``: the ``pytest_messagebus_repositories`` and
    ``pytest_messagebus_sync_repositories`` hooks' (the sync ones win a clash)."""
    return _repositories()


@pytest.fixture(name="messagebus_dependencies")
@listed_with_the_plugin
def _messagebus_dependencies() -> Mapping[str, type[Any]]:
    """The dependencies of the sync ``bus``: ``messagebus_sync_dependencies`` by default."""
    return _dependencies()


@pytest.fixture(name="uow")
@listed_with_the_plugin
def _uow(eventstore: Any) -> Any:
    """Sync twin of ``uow``: a ``SyncInMemoryUnitOfWork`` over ``messagebus_repositories``."""
    __tracebackhide__ = True
    return _plugin._unit_of_work(
        "messagebus_repositories",
        ("pytest_messagebus_make_sync_uow", "pytest_messagebus_make_uow"),
        "SyncInMemoryUnitOfWork",
        eventstore,
        like="pytest_messagebus_make_sync_uow",
        default_repositories=_repositories,
    )


@pytest.fixture(name="bus", scope="session")
@listed_with_the_plugin
def _bus() -> Any:
    """Sync twin of ``bus``: ``messagebus_sync_scan``'s handlers, ``messagebus_dependencies``."""
    __tracebackhide__ = True
    return _plugin._session_bus("sync", "messagebus_dependencies", _dependencies)


@pytest.fixture(name="_messagebus_given_phase")
@listed_with_the_plugin
def _given_phase(request: pytest.FixtureRequest, bus: Any, uow: Any) -> None:
    """Runs the commands of the ``messagebus_given`` markers with the sync ``bus`` and ``uow``."""
    __tracebackhide__ = True
    sync_phase(request, bus, uow)


@pytest.fixture(name="messagebus_given")
@listed_with_the_plugin
def _messagebus_given(bus: Any, uow: Any) -> Callable[..., None]:
    """``messagebus_given(*commands)`` with the sync ``bus`` and ``uow``."""
    return sync_given(bus, uow, "messagebus_given()")


@pytest.fixture(name="tuow")
@listed_with_the_plugin
def _tuow(uow: Any) -> Iterator[Any]:
    """An open transaction of the sync ``uow``, rolled back unless the test ended it."""
    yield from sync_open_transaction(uow)


@pytest.fixture(name="messagebus_handle")
@listed_with_the_plugin
def _messagebus_handle(bus: Any, uow: Any) -> Callable[..., Any]:
    """``messagebus_handle(command, **dependencies)`` with the sync ``bus`` and ``uow``."""
    return sync_handler(bus, uow, "messagebus_handle")


@pytest.fixture(name="messagebus_read")
@listed_with_the_plugin
def _messagebus_read(uow: Any) -> Callable[[Any], Any]:
    """``messagebus_read(query)`` with the sync ``uow``."""
    return sync_reader(uow, "messagebus_read")


_TWINS: dict[str, Any] = {
    "transport": _transport,
    "eventstore": _eventstore,
    "messagebus_repositories": _messagebus_repositories,
    "messagebus_dependencies": _messagebus_dependencies,
    "uow": _uow,
    "bus": _bus,
    "_messagebus_given_phase": _given_phase,
    "messagebus_given": _messagebus_given,
    "tuow": _tuow,
    "messagebus_handle": _messagebus_handle,
    "messagebus_read": _messagebus_read,
}
