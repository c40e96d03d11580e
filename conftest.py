"""Runs the code samples of README.md and docs/, with Sybil, as a reader would.

Every fenced ``python``, ``ini`` or ``toml`` block is a file of a small project,
and says which on its first line, as a comment: ``# conftest.py``,
``# library/domain.py``, ``# pytest.ini``. Each block is a test item. A test
module's item (``test_*.py``) writes the page's files up to it, in page order,
into an empty directory, and runs the module there in a pytest process of its
own, with the plugin loaded from its entry point: each of its tests must pass,
with every warning an error. Other files' items check that the file parses.
Since each item rebuilds the project it needs, the items run in any order and
on any xdist worker.

Until a page gives its own ``pytest.ini``, the project has the quick start's,
without ``messagebus_scan``. HTML comments add what a reader does by hand:

- ``<!-- run: SCRIPT.py -->`` runs a script of the project (an item, and a
  step of the later items' projects);
- ``<!-- pytest: ARGS -->`` runs pytest with these arguments: every test of
  the test modules it names (all, without a path) must pass; a page that
  says so runs its test modules there only;
- ``<!-- needs: messagebus 0.14 -->`` skips the items that follow on an older
  release, up to ``<!-- needs: end -->`` if there is one.
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import version
from typing import TYPE_CHECKING

import pytest
from sybil import Sybil
from sybil.parsers.markdown import CodeBlockParser
from sybil.parsers.markdown.lexers import DirectiveInHTMLCommentLexer

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from sybil import Document, Example, Region

_FILE = re.compile(r"\A# (?P<path>[\w./-]+\.(?:py|ini|toml|cfg))\n")
_TEST = re.compile(r"^(?:async )?def (test_\w+)", re.MULTILINE)
_OUTCOME = re.compile(r"^(\S+::\w+)(?:\[.*\])? (PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)", re.M)
_NEEDS = re.compile(r"^<!-- needs: (?:(?P<package>[\w-]+) (?P<version>[\d.]+)|end) -->$", re.M)
DEFAULT_INI = """\
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
"""


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version(name))[:3])


def _skip_unless_installed(example: Example) -> None:
    """Skips the item if a ``needs`` directive above it asks for a newer release."""
    need = None
    for match in _NEEDS.finditer(example.document.text, 0, example.start):
        need = match if match["package"] else None
    if need is not None:
        wanted = tuple(int(part) for part in need["version"].split("."))
        if _version(need["package"]) < wanted:
            pytest.skip(f"needs {need['package']} {need['version']} or later")


def _write(project: Path, source: str) -> str:
    """Writes a sample into the project; returns the file's name."""
    __tracebackhide__ = True
    match = _FILE.match(source)
    if match is None:
        first = source.partition("\n")[0]
        pytest.fail(
            "a sample starts with a comment naming its file, as '# conftest.py'; "
            f"this one starts with {first!r}",
            pytrace=False,
        )
    name = match["path"]
    path = project / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)
    return name


def _script(project: Path, script: str) -> None:
    __tracebackhide__ = True
    result = subprocess.run(
        [sys.executable, script], cwd=project, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"{script} failed:\n{result.stdout}{result.stderr}", pytrace=False)


def _project(example: Example) -> Path:
    """The page's project as it stands before ``example``, in a new directory."""
    __tracebackhide__ = True
    _skip_unless_installed(example)
    project: Path = example.namespace["tmp_path"]
    (project / "pytest.ini").write_text(DEFAULT_INI)
    for earlier in example.document.examples():
        if earlier.start >= example.start:
            break
        if earlier.region.evaluator is _sample:
            _write(project, earlier.parsed)
        elif earlier.region.evaluator is _run_script:
            _script(project, earlier.parsed.strip())
    return project


def _pytest(project: Path, *args: str) -> None:
    """Runs pytest in the project: every test of the test modules it names must pass."""
    __tracebackhide__ = True
    command = [sys.executable, "-m", "pytest", "-p", "no:randomly", "-p", "no:cacheprovider"]
    command += ["-W", "error", "--strict-config", "--strict-markers", "-v", *args]
    result = subprocess.run(command, cwd=project, capture_output=True, text=True, check=False)
    output = result.stdout + result.stderr
    outcomes: dict[str, set[str]] = {}
    for test, outcome in _OUTCOME.findall(output):
        outcomes.setdefault(outcome, set()).add(test)
    if result.returncode != 0 or set(outcomes) != {"PASSED"}:
        pytest.fail(f"pytest {' '.join(args)} failed:\n{output}", pytrace=False)
    paths = [project / arg for arg in args if (project / arg).exists()] or [project]
    modules = {
        module
        for path in paths
        for module in ([path] if path.is_file() else path.rglob("test_*.py"))
    }
    expected = {
        f"{module.relative_to(project).as_posix()}::{test}"
        for module in modules
        for test in _TEST.findall(module.read_text())
    }
    missing = sorted(expected - outcomes["PASSED"])
    if missing:
        pytest.fail(f"pytest {' '.join(args)} did not run {missing}:\n{output}", pytrace=False)


def _sample(example: Example) -> None:
    __tracebackhide__ = True
    project = _project(example)
    name = _write(project, example.parsed)
    if name.endswith(".py"):
        compile(example.parsed, name, "exec")
        runs_pytest_itself = "<!-- pytest:" in example.document.text
        if name.rpartition("/")[2].startswith("test_") and not runs_pytest_itself:
            _pytest(project, name)


def _run_script(example: Example) -> None:
    __tracebackhide__ = True
    _script(_project(example), example.parsed.strip())


def _run_pytest(example: Example) -> None:
    __tracebackhide__ = True
    _pytest(_project(example), *example.parsed.split())


class _DirectiveParser:
    """``<!-- NAME: ARGUMENTS -->``, evaluated by ``evaluator``."""

    def __init__(self, name: str, evaluator: Callable[[Example], None]) -> None:
        self.lexer = DirectiveInHTMLCommentLexer(directive=name)
        self.evaluator = evaluator

    def __call__(self, document: Document) -> list[Region]:
        regions = list(self.lexer(document))
        for region in regions:
            region.parsed = region.lexemes["arguments"]
            region.evaluator = self.evaluator
        return regions


pytest_collect_file = Sybil(
    parsers=[
        CodeBlockParser("python", _sample),
        CodeBlockParser("ini", _sample),
        CodeBlockParser("toml", _sample),
        _DirectiveParser("run", _run_script),
        _DirectiveParser("pytest", _run_pytest),
    ],
    patterns=["README.md", "docs/*.md"],
    fixtures=["tmp_path"],
).pytest()
