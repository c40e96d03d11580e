"""Hooks a conftest or a plugin implements to plug its own pieces into the fixtures.

Each hook is called per test through the test's own hook proxy, so an
implementation in a ``conftest.py`` applies to the tests of its directory only.
The ``make`` hooks are *firstresult*: the first implementation that returns
something other than ``None`` wins (a conftest's before an installed plugin's,
a deeper conftest's before a shallower one's); returning ``None`` falls back
to the plugin's in-memory piece. What they return is checked when the fixture
is set up: an object of the wrong kind, or a class instead of an instance,
fails the test there, naming the implementation (file and line).

If the plugin may be disabled (``-p no:messagebus_eventstore``), give each
implementation in a ``conftest.py`` ``@pytest.hookimpl(optionalhook=True)``:
without the plugin, pytest knows no such hook, and refuses the conftest with
``PluginValidationError: unknown hook``::

    @pytest.hookimpl(optionalhook=True)
    def pytest_messagebus_repositories(config):
        return {"books": FakeBookRepository()}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from collections.abc import Mapping

    import pytest

hookspec = pluggy.HookspecMarker("pytest")


@hookspec
def pytest_messagebus_repositories(config: pytest.Config) -> Mapping[str, Any] | None:
    """Repositories for the ``uow`` fixture, by attribute name.

    Return a mapping of attribute name to repository instance, or ``None``;
    ``eventstore`` and ``messagestore`` name the message store, not a
    repository. The default ``messagebus_repositories`` fixture merges the
    mappings every implementation returns; for a name given twice, the first
    implementation called wins. A ``messagebus_repositories`` fixture defined
    in a conftest replaces the default fixture, so these hooks are then not
    consulted (unless the override requests ``messagebus_repositories`` itself
    to extend it).
    """


@hookspec
def pytest_messagebus_sync_repositories(config: pytest.Config) -> Mapping[str, Any] | None:
    """Sync twin of :func:`pytest_messagebus_repositories`, for ``sync_uow``."""


@hookspec(firstresult=True)
def pytest_messagebus_make_uow(
    eventstore: Any, repositories: Mapping[str, Any], metrics_store: Any, config: pytest.Config
) -> Any | None:
    """Build the unit of work the ``uow`` fixture returns.

    Return an instance of ``messagebus.AsyncAbstractUnitOfWork``, or ``None``
    for an ``InMemoryUnitOfWork``.

    ``eventstore`` is the ``eventstore`` fixture (publishing to ``transport``)
    and ``repositories`` the ``messagebus_repositories`` fixture. Give the
    unit of work that message store so that the plugin's fixtures, the given
    phase and the recorder see what the bus handles. Rollback snapshots of the
    class-level stores are taken by ``InMemoryUnitOfWork`` only.

    ``metrics_store`` is the test's metrics store, the ``messagebus_metrics``
    fixture, when the test asks for it or a ``pytest_messagebus_make_metrics_store``
    hook gives it; else ``None`` (and on messagebus 0.12 and 0.13, which have
    no metrics): set it as the unit of work's ``metrics_store`` for
    ``messagebus_metrics`` to count what the unit of work does. An
    implementation may leave the argument out.
    """


@hookspec(firstresult=True)
def pytest_messagebus_make_sync_uow(
    eventstore: Any, repositories: Mapping[str, Any], metrics_store: Any, config: pytest.Config
) -> Any | None:
    """Sync twin of :func:`pytest_messagebus_make_uow`, for ``sync_uow``.

    Return an instance of ``messagebus.SyncAbstractUnitOfWork``, or ``None``.
    """


@hookspec(firstresult=True)
def pytest_messagebus_make_metrics_store(config: pytest.Config) -> Any | None:
    """Build the metrics store of the running test.

    Return an instance of messagebus's ``AbstractMetricsStore``, or ``None``
    for an ``InMemoryMetricsStore``.

    Called once per test, when ``uow``, ``sync_uow`` or ``messagebus_metrics``
    is first set up: the test's units of work share the store, and the
    ``messagebus_metrics`` fixture returns it. Never called on messagebus 0.12
    and 0.13, which have no metrics.
    """


@hookspec(firstresult=True)
def pytest_messagebus_make_transport(config: pytest.Config) -> Any | None:
    """Build the eventstream transport the ``transport`` fixture returns.

    Return an instance of ``messagebus.AsyncAbstractEventstreamTransport``, or
    ``None`` for an ``InMemoryEventstreamTransport``.

    The ``eventstore`` fixture publishes to it. Keep an ``events`` list on it
    if the given phase should empty it after the arrangement.
    """


@hookspec(firstresult=True)
def pytest_messagebus_make_sync_transport(config: pytest.Config) -> Any | None:
    """Sync twin of :func:`pytest_messagebus_make_transport`, for ``sync_transport``.

    Return an instance of ``messagebus.SyncAbstractEventstreamTransport``, or ``None``.
    """


@hookspec(firstresult=True)
def pytest_messagebus_make_serializer(config: pytest.Config) -> Any | None:
    """Build the message serializer of the eventstream publishers (both flavours).

    Return an instance of ``messagebus.AbstractMessageSerializer``, or
    ``None`` for messagebus's own serializer. The
    ``messagebus_serializer`` fixture returns it, and it is the ``serializer``
    attribute of ``eventstore.publisher`` and ``sync_eventstore.publisher``.
    """
