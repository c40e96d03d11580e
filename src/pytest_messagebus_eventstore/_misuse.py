"""Mistakes in what the hooks and fixtures give the units of work, explained.

Each check runs only where a hook returned something, or once a unit of work
refused its repositories: the common path pays one ``isinstance`` at most. The
error names the hook implementation or the fixture definition it came from,
by file and line, and the fix.

This module must not import messagebus at import time: the plugin imports it
at start-up.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Mapping
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from ._render import type_name, with_article
from ._state import running

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._state import RunningTest

_T = TypeVar("_T")
_PLUGIN = "pytest_messagebus_eventstore.plugin"

# What each make hook must return, a messagebus class, and the fixture it builds.
_HOOK_RESULTS = {
    "pytest_messagebus_make_uow": ("AsyncAbstractUnitOfWork", "uow"),
    "pytest_messagebus_make_sync_uow": ("SyncAbstractUnitOfWork", "sync_uow"),
    "pytest_messagebus_make_transport": ("AsyncAbstractEventstreamTransport", "transport"),
    "pytest_messagebus_make_sync_transport": (
        "SyncAbstractEventstreamTransport",
        "sync_transport",
    ),
    "pytest_messagebus_make_serializer": ("AbstractMessageSerializer", "messagebus_serializer"),
    "pytest_messagebus_make_metrics_store": ("AbstractMetricsStore", "messagebus_metrics"),
}
_UOW_OF = {"messagebus_repositories": "uow", "messagebus_sync_repositories": "sync_uow"}


def checked(hook: str, result: _T, *, like: str | None = None, **kwargs: Any) -> _T:
    """``result`` of the make hook ``hook``, if it is the kind of object the fixture needs.

    ``like`` names the hook whose kind of result is needed, if not ``hook``'s:
    in a directory of sync twins, the async-named hooks build sync pieces.
    """
    __tracebackhide__ = True
    fixture = _HOOK_RESULTS[hook][1]
    class_name = _HOOK_RESULTS[hook if like is None else like][0]
    expected: Any
    if hook == "pytest_messagebus_make_metrics_store":
        # Not in messagebus's top-level package, nor in the same module in every version.
        from ._metrics import METRICS_STORE_BASE as expected
    else:
        expected = getattr(sys.modules.get("messagebus") or import_module("messagebus"), class_name)
    if isinstance(result, expected):
        return result
    # firstresult: the first implementation called that returned something.
    where = _blame(hook, kwargs, lambda given: given is not None)
    if isinstance(result, type) and issubclass(result, expected):
        fix = f"return an instance, {result.__name__}(...)"
    else:
        fix = f"return an instance of a subclass of messagebus's {class_name}"
    pytest.fail(
        f"{fixture}: {where} returned {type_name(result)}, not {with_article(class_name)}.\n"
        f"Fix: {fix}, or None to leave it to the plugin.",
        pytrace=False,
    )


_MAPPING_FIX = (
    "Fix: return a mapping of attribute name to repository, e.g. {'books': BookRepository()}"
)


def not_a_mapping(hook: str, result: Any) -> None:
    __tracebackhide__ = True
    where = _blame(hook, {}, lambda given: given is not None and not isinstance(given, Mapping))
    pytest.fail(f"{where} returned {type_name(result)}.\n{_MAPPING_FIX}, or None.", pytrace=False)


def refuse_repositories(fixture: str, unit_of_work: type, repositories: Any) -> None:
    """Fail the test if ``unit_of_work`` refused ``repositories``, naming where they came from."""
    __tracebackhide__ = True
    run = running[-1]
    uow = _UOW_OF[fixture]
    if not isinstance(repositories, Mapping):
        source = _fixture_source(fixture, run) or f"the {fixture} fixture"
        pytest.fail(
            f"{uow}: {source} returned {type_name(repositories)}.\n{_MAPPING_FIX}.",
            pytrace=False,
        )
    for name in ("eventstore", "messagestore"):
        if name in repositories:
            pytest.fail(
                f"{uow}: {_source_of(fixture, name, run)} names a repository {name!r}, "
                f"a name reserved for the message store ({uow}.{name}).\n"
                "Fix: give the repository another name.",
                pytrace=False,
            )
    probe = unit_of_work()
    for name, repository in repositories.items():
        try:
            probe._check_repository(name, repository)
        except TypeError as error:
            problem = str(error)
        else:
            continue
        source = _source_of(fixture, name, run)
        pytest.fail(
            f"{uow}: {problem}\nThe repository {name!r} comes from {source}.", pytrace=False
        )


def _blame(hook: str, kwargs: Mapping[str, Any], wrong: Callable[[Any], bool]) -> str:
    """Where the running test's first implementation of ``hook`` whose result is ``wrong`` is.

    Each implementation is called again, alone, in the order pluggy calls them.
    """
    run = running[-1]
    args = {"config": run.item.config, **kwargs}
    for implementation in reversed(getattr(run.item.ihook, hook).get_hookimpls()):
        if implementation.hookwrapper or getattr(implementation, "wrapper", False):
            continue
        if wrong(implementation.function(*[args[name] for name in implementation.argnames])):
            code = inspect.unwrap(implementation.function).__code__
            return f"{hook} in {_relative(code.co_filename, run)}:{code.co_firstlineno}"
    # Its results were not the same when called again.
    return hook


def _source_of(fixture: str, name: str, run: RunningTest) -> str:
    """What gave the running test's ``fixture`` its repository ``name``."""
    return _fixture_source(fixture, run) or _blame(
        f"pytest_{fixture}", {}, lambda given: isinstance(given, Mapping) and name in given
    )


def _fixture_source(fixture: str, run: RunningTest) -> str | None:
    """Where the running test's ``fixture`` is defined, if not in this plugin."""
    item: Any = run.item
    definitions = item._fixtureinfo.name2fixturedefs.get(fixture)
    if not definitions:
        manager = item.session._fixturemanager
        try:
            definitions = manager.getfixturedefs(fixture, item)
        except Exception:  # pytest < 8.1 looks definitions up by node id
            definitions = manager.getfixturedefs(fixture, item.nodeid)
    # The most specific definition comes last.
    function = inspect.unwrap(definitions[-1].func)
    module = function.__module__
    if module == _PLUGIN:
        return None
    # A test's parametrization of it stands for a fixture defined by pytest.
    if module.startswith("_pytest."):
        return f"the parametrization of {fixture}"
    code = function.__code__
    return f"the {fixture} fixture in {_relative(code.co_filename, run)}:{code.co_firstlineno}"


def _relative(filename: str, run: RunningTest) -> str:
    try:
        return str(Path(filename).relative_to(run.item.config.rootpath))
    except ValueError:
        return filename
