"""Guards on the private pytest names the plugin's fast paths rely on.

The plugin reaches into four private corners of pytest, each to save time:

- ``Function._request``: a fixture override is read through the test's own
  request (plugin.py, ``_overridable``);
- ``FixtureManager.getfixturedefs``: the overridable fixtures nobody overrides
  are computed without asking pytest (plugin.py, ``_overridden_at``), and a
  misuse message names the fixture definition to blame (_misuse.py,
  ``_fixture_source``);
- ``FixtureDef`` (``func``, ``argnames``, ``params``, ``scope``, ``cache_key``,
  ``cached_result``): a plain override is called by the plugin, not set up by
  pytest, and a later ``request.getfixturevalue()`` of it gets the same value
  (plugin.py, ``_plain`` and ``pytest_fixture_setup``);
- the assertion rewriter's ``_must_rewrite`` set and
  ``_marked_for_rewrite_cache`` dict: the package drops its own mark so that
  its modules are imported by Python, not loaded through the rewriter
  (__init__.py, ``_import_without_assertion_rewriting``).

A fallback keeps the features working when a name disappears (except for
``_request``: there is none), so a pytest release that renames one would
only make the plugin slower, and no feature test would notice. These tests
check that the fast path is the one taken on the installed pytest, and name
the private name, the line of the plugin using it and what to do when it
is not.

Feature coverage lives elsewhere and is not repeated here: overrides of the
overridable fixtures in test_hooks.py and test_dependencies.py; the misuse messages that go
through ``getfixturedefs``, by node on pytest >= 8.1 and by node id before
(the fallback of _misuse.py, exercised by the pytest 8.0 run), in
test_hooks.py::test_repository_class_from_a_fixture_names_the_fixture; start-up
without the rewriter, as installed, in
test_packaging.py::test_modules_are_imported_by_python_not_by_the_assertion_rewriter.
"""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from _pytest.assertion.rewrite import AssertionRewritingHook
from _pytest.fixtures import FixtureManager
from packaging.version import Version

import pytest_messagebus_eventstore
from conftest import CONFTEST
from pytest_messagebus_eventstore import _misuse, plugin

PYTEST = Version(pytest.__version__)
# pytest 8.1 looks fixture definitions up by node, no longer by node id: before
# it, plugin.py falls back by design (see _overridden_at).
LOOKS_UP_BY_NODE = PYTEST.release >= (8, 1)
PACKAGE = "pytest_messagebus_eventstore"
PLUGIN = f"{PACKAGE}.plugin"
_ROOT = Path(__file__).resolve().parent.parent


def _use(module: ModuleType, function: str, name: str) -> str:
    """Where (``path:line``) ``function`` of the plugin's ``module`` uses the private ``name``.

    Found in the source rather than written down, so that the messages stay
    right as the source moves; the function's first line if ``name`` is no
    longer in it. A guard whose function is gone fails instead of passing for
    nothing.
    """
    found = getattr(module, function, None)
    if found is None:
        pytest.fail(
            f"{module.__name__}.{function} is gone: this guard of the private {name} is stale. "
            "Point it at the new use of the name, or remove it with the use.",
            pytrace=False,
        )
    lines, start = inspect.getsourcelines(found)
    offset = next((index for index, line in enumerate(lines) if name in line), 0)
    path = Path(inspect.getsourcefile(found) or module.__name__).resolve()
    try:
        shown: Path = path.relative_to(_ROOT)
    except ValueError:
        shown = path
    return f"{shown}:{start + offset} ({function})"


def _update(name: str, where: str, consequence: str) -> str:
    """The failure message of a guard: the private name, its use, what happens, what to do."""
    return (
        f"pytest {PYTEST}: the private {name} is not what {where} expects. {consequence} "
        f"Update the fast path at {where} to what this pytest offers (keeping what the "
        "older supported pytest versions need), then this guard."
    )


# --- Function._request ------------------------------------------------------

_REQUEST_CONSEQUENCE = (
    "There is no fallback: every test using uow, bus, eventstore or their sync twins "
    "in a project that overrides messagebus_repositories, messagebus_serializer or "
    "messagebus_dependencies fails at setup."
)

# Appended to the project's conftest: records the fixtures that the plugin
# itself (not pytest filling the test's arguments) asks of the test's request,
# and writes them down at the end of the session, for the outer test to read.
RECORDER = """

import json
import sys

ASKED = {}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    # Before pytest sets up the test's fixtures, which is when the plugin asks.
    request = getattr(item, "_request", None)
    if request is None:
        ASKED[item.name] = None
        return
    asked = ASKED[item.name] = []
    real = request.getfixturevalue

    def getfixturevalue(argname):
        if sys._getframe(1).f_globals.get("__name__") == "pytest_messagebus_eventstore.plugin":
            asked.append(argname)
        return real(argname)

    request.getfixturevalue = getfixturevalue


def pytest_sessionfinish(session):
    (session.config.rootpath / "asked.json").write_text(json.dumps(ASKED))
"""

# The project's conftest overrides messagebus_repositories; nothing overrides
# messagebus_serializer, which uow's eventstore also consumes.
OVERRIDING_TEST = """
async def test_overridden(uow):
    assert type(uow.books).__name__ == "FakeBookRepository"
    assert type(uow.eventstore.publisher.serializer).__name__ == "MessageSerializer"
"""


def _errors(result: pytest.RunResult) -> list[str]:
    """The first error lines of an inner run, to show in a guard's message."""
    return [line for line in result.outlines if line.startswith("E ")][:3]


# The override as pytest must set it up (it yields): the plugin calls a plain
# one itself (see the FixtureDef guards below).
_PLAIN = 'def messagebus_repositories():\n    return {"books": FakeBookRepository()}'
assert _PLAIN in CONFTEST
YIELDING_CONFTEST = CONFTEST.replace(
    _PLAIN, 'def messagebus_repositories():\n    yield {"books": FakeBookRepository()}'
)


def _asked_by_the_plugin(
    project: pytest.Pytester, conftest: str = YIELDING_CONFTEST, test: str = OVERRIDING_TEST
) -> tuple[pytest.RunResult, list[str] | None]:
    """The inner run of ``test``, and what the plugin asked of its ``_request``."""
    project.makeconftest(conftest + RECORDER)
    project.makepyfile(test_overridden=test)
    result = project.runpytest("-p", "no:randomly")
    asked: dict[str, list[str] | None] = json.loads((project.path / "asked.json").read_text())
    # Missing if the inner test did not get as far as its setup.
    return result, asked.get("test_overridden", [])


@pytest.fixture
def answer() -> int:
    return 42


def test_a_test_function_keeps_its_request(request: pytest.FixtureRequest, answer: int) -> None:
    # The shape _overridable relies on, checked directly: the item of the
    # running test holds its request, which serves the test's fixtures.
    where = _use(plugin, "_overridable", "_request")
    item = request.node
    assert isinstance(item, pytest.Function)
    own = getattr(item, "_request", None)
    assert isinstance(own, pytest.FixtureRequest), _update(
        "pytest.Function._request", where, _REQUEST_CONSEQUENCE
    )
    assert own.node is item, _update("pytest.Function._request", where, _REQUEST_CONSEQUENCE)
    assert own.getfixturevalue("answer") == answer


def test_an_override_is_read_through_the_request_of_the_test(project: pytest.Pytester) -> None:
    result, asked = _asked_by_the_plugin(project)
    where = _use(plugin, "_overridable", "_request")
    assert asked is not None, _update("pytest.Function._request", where, _REQUEST_CONSEQUENCE)
    assert "messagebus_repositories" in asked, _update(
        "pytest.Function._request",
        where,
        "The conftest's override of messagebus_repositories was not asked of the test's "
        f"_request (the plugin asked it for {asked}; the inner run said {_errors(result)}). "
        "If the getfixturedefs guard below fails too, the lookup is the cause: the plugin "
        "did not see the override. Else: " + _REQUEST_CONSEQUENCE,
    )
    result.assert_outcomes(passed=1)


# No fallback test for _request: the plugin has no fallback to test (see
# _REQUEST_CONSEQUENCE). Without it, overrides could be served only by the
# consumer fixtures depending on every overridable fixture, which is what the
# fast path avoids.


# --- FixtureManager.getfixturedefs --------------------------------------------

_LOOKUP_CONSEQUENCE = (
    "plugin.py then asks pytest for every overridable fixture of every test, as on "
    "pytest < 8.1: the tests pass, only slower."
)


@pytest.fixture
def level() -> str:
    return "module"


class TestFixtureLookup:
    @pytest.fixture
    def level(self) -> str:
        return "class"

    def test_definitions_are_looked_up_by_node_most_specific_last(
        self, request: pytest.FixtureRequest, level: str
    ) -> None:
        # plugin.py asks with the test's parent (where overrides are defined)
        # and _misuse.py with the test itself; both read the last definition
        # as the one the test gets, and its function's module.
        where = _use(plugin, "_overridden_at", "getfixturedefs")
        misuse = _use(_misuse, "_fixture_source", "getfixturedefs")
        manager: Any = getattr(request.session, "_fixturemanager", None)
        lookup = getattr(manager, "getfixturedefs", None)
        assert callable(lookup), _update(
            "Session._fixturemanager.getfixturedefs", where, _LOOKUP_CONSEQUENCE
        )
        if not LOOKS_UP_BY_NODE:
            # What makes both uses fall back on this pytest, by design.
            with pytest.raises(AttributeError):
                lookup("level", request.node)
            definitions = lookup("level", request.node.nodeid)
            assert [d.func.__qualname__ for d in definitions] == [
                "level",
                "TestFixtureLookup.level",
            ]
            return
        nodes = {"plugin.py": (request.node.parent, where), "_misuse.py": (request.node, misuse)}
        for module, (node, use) in nodes.items():
            try:
                definitions = lookup("level", node)
            except Exception as error:
                pytest.fail(
                    _update(
                        "FixtureManager.getfixturedefs(argname, node)",
                        use,
                        f"Looking up by node raised {error!r}."
                        + (f" {_LOOKUP_CONSEQUENCE}" if module == "plugin.py" else ""),
                    ),
                    pytrace=False,
                )
            found = [(d.func.__module__, d.func.__qualname__) for d in definitions]
            assert found == [(__name__, "level"), (__name__, "TestFixtureLookup.level")], _update(
                "FixtureManager.getfixturedefs(argname, node)",
                use,
                f"It no longer gives the definitions with their function, most specific "
                f"last (it gave {found}): overrides may go unnoticed or be misattributed.",
            )
        assert level == "class"


def test_fixtures_nobody_overrides_are_not_asked_of_pytest(project: pytest.Pytester) -> None:
    # The fast path as the plugin takes it: the conftest overrides
    # messagebus_repositories only, so the serializer is the plugin's default,
    # computed without asking pytest.
    result, asked = _asked_by_the_plugin(project)
    assert asked is not None, "pytest.Function._request is missing: see the tests above."
    if LOOKS_UP_BY_NODE:
        assert "messagebus_serializer" not in asked, _update(
            "FixtureManager.getfixturedefs(argname, node)",
            _use(plugin, "_overridden_at", "getfixturedefs"),
            f"The plugin asked pytest for {asked}, overridden or not. {_LOOKUP_CONSEQUENCE}",
        )
    else:
        # pytest < 8.1: every overridable fixture a test consumes is asked.
        assert "messagebus_serializer" in asked
    # Else the override path is broken: see the _request guards above.
    assert "messagebus_repositories" in asked, _errors(result)
    result.assert_outcomes(passed=1)


def test_without_getfixturedefs_every_overridable_fixture_is_asked_of_pytest(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fallback of plugin.py, on a pytest where the fast path works (on
    # pytest < 8.1 it is what every test runs): the lookup fails for the plugin
    # only, as if renamed; pytest itself keeps using it.
    real = FixtureManager.getfixturedefs

    def getfixturedefs(self: FixtureManager, argname: str, node: Any) -> Any:
        if sys._getframe(1).f_globals.get("__name__") == PLUGIN:
            raise AttributeError("getfixturedefs")
        return real(self, argname, node)

    monkeypatch.setattr(FixtureManager, "getfixturedefs", getfixturedefs)
    result, asked = _asked_by_the_plugin(project, CONFTEST)
    # The override and the default both still apply (OVERRIDING_TEST's asserts).
    result.assert_outcomes(passed=1)
    # Proof that the fallback was taken.
    assert asked is not None
    assert {"messagebus_serializer", "messagebus_repositories"} <= set(asked)


# --- FixtureDef: a plain override called by the plugin ---------------------

_PLAIN_CONSEQUENCE = (
    "A plain override of messagebus_repositories (no argument, returns its value) "
    "is then set up by pytest, which costs each test about 180 k instructions more."
)

# Appended to the project's conftest, after RECORDER: the fixtures pytest set up.
SET_UP = """

SET_UP = []


@pytest.hookimpl(tryfirst=True)
def pytest_fixture_setup(fixturedef):
    SET_UP.append(fixturedef.argname)


def pytest_unconfigure(config):
    (config.rootpath / "set_up.json").write_text(json.dumps(SET_UP))
"""


def test_a_plain_override_is_called_without_pytest_setting_it_up(
    project: pytest.Pytester,
) -> None:
    where = _use(plugin, "_plain", "definition.func")
    result, asked = _asked_by_the_plugin(project, CONFTEST + SET_UP)
    result.assert_outcomes(passed=1)
    set_up = json.loads((project.path / "set_up.json").read_text())
    assert "uow" in set_up
    if not LOOKS_UP_BY_NODE:
        # pytest < 8.1: the plugin does not see which fixtures are overridden,
        # and asks pytest for each one (see the getfixturedefs guards).
        assert "messagebus_repositories" in set_up
        return
    assert "messagebus_repositories" not in set_up, _update(
        "FixtureDef (func, argnames, params, scope)", where, _PLAIN_CONSEQUENCE
    )
    assert asked == []


# What pytest's set-up of the override would give, the plugin gives too.
ASKED_LATER_TEST = """
async def test_asked_later(uow, request):
    repositories = request.getfixturevalue("messagebus_repositories")
    assert repositories["books"] is uow.books
    assert request.getfixturevalue("messagebus_repositories") is repositories
"""


def test_a_plain_override_asked_of_pytest_later_is_the_value_the_plugin_used(
    project: pytest.Pytester,
) -> None:
    where = _use(plugin, "pytest_fixture_setup", "cached_result")
    result, _ = _asked_by_the_plugin(project, CONFTEST + SET_UP, ASKED_LATER_TEST)
    assert result.ret == 0, _update(
        "FixtureDef.cache_key and FixtureDef.cached_result",
        where,
        f"request.getfixturevalue() of an override the plugin called failed: {_errors(result)}.",
    )
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("kind", "override"),
    [
        ("yields", "def messagebus_repositories():\n    yield {'books': FakeBookRepository()}"),
        (
            "takes an argument",
            "def messagebus_repositories(request):\n    return {'books': FakeBookRepository()}",
        ),
        (
            "is async",
            "async def messagebus_repositories():\n    return {'books': FakeBookRepository()}",
        ),
        (
            "has a wider scope",
            "def messagebus_repositories():\n    return {'books': FakeBookRepository()}",
        ),
    ],
)
def test_any_other_override_is_set_up_by_pytest(
    project: pytest.Pytester, kind: str, override: str
) -> None:
    conftest = CONFTEST.replace(_PLAIN, override)
    if kind == "has a wider scope":
        conftest = conftest.replace(
            "@pytest.fixture\n" + override, '@pytest.fixture(scope="module")\n' + override
        )
    assert conftest != CONFTEST or kind == "has a wider scope"
    result, asked = _asked_by_the_plugin(project, conftest)
    result.assert_outcomes(passed=1)
    assert asked is not None
    # pytest < 8.1: the serializer is asked of pytest too (see above).
    assert asked == ["messagebus_repositories"] or not LOOKS_UP_BY_NODE, kind
    assert "messagebus_repositories" in asked, kind


def test_with_setup_show_a_plain_override_is_shown_as_pytest_sets_it_up(
    project: pytest.Pytester,
) -> None:
    project.makeconftest(CONFTEST)
    project.makepyfile(test_overridden=OVERRIDING_TEST)
    result = project.runpytest("-p", "no:randomly", "--setup-show")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*SETUP    F messagebus_repositories*"])


# --- the assertion rewriter's _must_rewrite -----------------------------------

_MARKS_CONSEQUENCE = (
    "The package's modules are then loaded through the assertion rewriter: the "
    "plugin works, only slower to start."
)


def test_the_rewrite_hook_keeps_its_marks_where_the_package_looks(
    pytestconfig: pytest.Config,
) -> None:
    # The shape _import_without_assertion_rewriting relies on, checked directly
    # on this session's hook.
    where = _use(
        pytest_messagebus_eventstore, "_import_without_assertion_rewriting", "_must_rewrite"
    )
    hook = pytestconfig.pluginmanager.rewrite_hook
    if not isinstance(hook, AssertionRewritingHook):
        pytest.skip("assertion rewriting is off in this session (--assert=plain)")
    # The package finds the hook among the import finders.
    assert hook in sys.meta_path, _update(
        "AssertionRewritingHook's place in sys.meta_path", where, _MARKS_CONSEQUENCE
    )
    assert isinstance(getattr(hook, "_must_rewrite", None), set), _update(
        "AssertionRewritingHook._must_rewrite (a set)", where, _MARKS_CONSEQUENCE
    )
    assert isinstance(getattr(hook, "_marked_for_rewrite_cache", None), dict), _update(
        "AssertionRewritingHook._marked_for_rewrite_cache (a dict)", where, _MARKS_CONSEQUENCE
    )


# Written at the end of the inner session: how the package's modules were
# loaded, and whether the package is still marked for rewriting.
LOADERS = """
import json
import sys


def pytest_sessionfinish(session):
    marks = getattr(session.config.pluginmanager.rewrite_hook, "_must_rewrite", ())
    loaders = {
        name: type(sys.modules[name].__spec__.loader).__name__
        for name in (
            "pytest_messagebus_eventstore",
            "pytest_messagebus_eventstore.plugin",
            "pytest_messagebus_eventstore.uow",
        )
    }
    facts = {"marked": "pytest_messagebus_eventstore" in marks, "loaders": loaders}
    (session.config.rootpath / "loaders.json").write_text(json.dumps(facts))
"""

# Loaded with -p, before the plugin's entry point: marks the package as pytest
# does for a plugin installed from a wheel (an editable install is marked only
# by some pytest versions).
MARK_LIKE_A_WHEEL = """
import pytest

pytest.register_assert_rewrite("pytest_messagebus_eventstore")
"""

# The same, after putting the rewrite hook's marks out of the package's reach,
# as a pytest that renamed them would.
RENAMED_MARKS = """
import sys

import pytest


class Marks(list):
    # Not a set: what the package looks for is gone; what pytest needs remains.
    def update(self, names):
        self.extend(name for name in names if name not in self)


for finder in sys.meta_path:
    if isinstance(getattr(finder, "_must_rewrite", None), set):
        finder._must_rewrite = Marks(finder._must_rewrite)

pytest.register_assert_rewrite("pytest_messagebus_eventstore")
"""


def _start_up(pytester: pytest.Pytester, *plugins: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    """A pytest process (start-up is what is checked) with ``plugins`` loaded first."""
    pytester.makeconftest(LOADERS)
    pytester.makepyfile(test_uses_the_store="def test_uses_the_store(uow): pass")
    options = [arg for plugin in plugins for arg in ("-p", plugin)]
    result = pytester.runpytest_subprocess(
        "-p", "no:randomly", "-W", "error::pytest.PytestAssertRewriteWarning", *options
    )
    facts: dict[str, Any] = json.loads((pytester.path / "loaders.json").read_text())
    return result, facts


@pytest.mark.parametrize("marked", ["as installed", "like a wheel"])
def test_the_package_drops_its_mark_at_start_up(pytester: pytest.Pytester, marked: str) -> None:
    plugins = []
    if marked == "like a wheel":
        pytester.makepyfile(mark_like_a_wheel=MARK_LIKE_A_WHEEL)
        plugins.append("mark_like_a_wheel")
    result, facts = _start_up(pytester, *plugins)
    result.assert_outcomes(passed=1)
    loaders = facts["loaders"]
    if loaders[PACKAGE] != "AssertionRewritingHook":
        # pytest did not mark the package: there was no mark to drop.
        assert marked == "as installed", loaders
        pytest.skip(f"pytest {PYTEST} does not mark this installation of the plugin for rewriting")
    message = _update(
        "AssertionRewritingHook._must_rewrite / _marked_for_rewrite_cache",
        _use(pytest_messagebus_eventstore, "_import_without_assertion_rewriting", "_must_rewrite"),
        f"The package was still marked ({facts['marked']}) after its import, and its "
        f"modules loaded by {loaders}. {_MARKS_CONSEQUENCE}",
    )
    assert not facts["marked"], message
    assert loaders[PLUGIN] == loaders[f"{PACKAGE}.uow"] == "SourceFileLoader", message


def test_with_the_marks_out_of_reach_the_plugin_is_loaded_through_the_rewriter(
    pytester: pytest.Pytester,
) -> None:
    # The fallback: the package cannot drop its mark, and is imported the slow
    # way, cleanly (no rewrite warning, made an error here).
    pytester.makepyfile(renamed_marks=RENAMED_MARKS)
    result, facts = _start_up(pytester, "renamed_marks")
    result.assert_outcomes(passed=1)
    assert facts["marked"]
    assert set(facts["loaders"].values()) == {"AssertionRewritingHook"}
