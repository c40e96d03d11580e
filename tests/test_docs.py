"""Every code sample of the manual in docs/ runs, as it stands, and its tests pass."""

from __future__ import annotations

import re
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.version import Version

DOCS = Path(__file__).resolve().parents[1] / "docs"
# A sample starts with "# example: NAME": a test module (test_*.py), a module
# the page's test modules import (NAME.py), either under a directory
# (dir/NAME.py), or lines of the [pytest] section of the ini file (pytest.ini).
_SAMPLE = re.compile(
    r"```(?:python|ini)\n# example: (?P<name>[\w./]+)\n(?P<code>.*?)```", re.DOTALL
)
_TEST = re.compile(r"^(?:async )?def (test_\w+)", re.MULTILINE)


def _pages() -> list[Path]:
    return sorted(DOCS.glob("*.md"))


def test_every_page_has_samples() -> None:
    assert [page.name for page in _pages()] == [
        "dependencies.md",
        "handle-and-read.md",
        "metrics.md",
        "repositories.md",
        "transactions.md",
        "unasync.md",
    ]
    for page in _pages():
        assert _SAMPLE.search(page.read_text()), f"{page.name} has no executed sample"


# A page may say what its samples need: "<!-- needs: pytest-asyncio 0.24 -->",
# and which of its samples is a script run before the tests: "<!-- run: NAME -->".
_NEEDS = re.compile(r"<!-- needs: (?P<package>[\w-]+) (?P<version>[\w.]+) -->")
_RUN = re.compile(r"<!-- run: (?P<script>[\w./]+) -->")


@pytest.mark.parametrize("page", _pages(), ids=lambda page: page.name)
def test_samples_of_the_page_pass(pytester: pytest.Pytester, page: Path) -> None:
    text = page.read_text()
    for need in _NEEDS.finditer(text):
        if Version(version(need["package"])) < Version(need["version"]):
            pytest.skip(f"{page.name} needs {need['package']} {need['version']}")
    samples = {match["name"]: match["code"] for match in _SAMPLE.finditer(text)}
    ini = samples.pop("pytest.ini", "")
    for name, code in samples.items():
        module = pytester.path / (name if name.endswith(".py") else f"{name}.py")
        module.parent.mkdir(parents=True, exist_ok=True)
        module.write_text(code)
    for run in _RUN.finditer(text):
        assert pytester.run(sys.executable, run["script"]).ret == 0, f"{run['script']} failed"
    # Those of the samples, and of the files the scripts wrote.
    tests = [
        test
        for module in pytester.path.rglob("test_*.py")
        for test in _TEST.findall(module.read_text())
    ]
    # pytest-asyncio before 0.24 knows no loop scope option, and warns of it.
    loop_scope = (
        "asyncio_default_fixture_loop_scope = function"
        if Version(version("pytest-asyncio")) >= Version("0.24")
        else ""
    )
    pytester.makeini(
        "\n".join(["[pytest]", "pythonpath = .", "asyncio_mode = auto", loop_scope, ini])
    )
    # In a process of its own, as a reader runs it: in this one, an earlier
    # test's modules of the same names (a ``tests`` package) stay in the caches
    # of ``inspect``, which messagebus 0.12's venusian then trips over.
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-W", "error", "-v")
    result.assert_outcomes(passed=len(tests))
    result.stdout.fnmatch_lines_random([f"*::{test} PASSED*" for test in tests])
