"""Every code sample of the manual in docs/ runs, as it stands, and its tests pass."""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.version import Version

DOCS = Path(__file__).resolve().parents[1] / "docs"
# A sample starts with "# example: NAME": a test module (test_*.py) or a module
# the page's test modules import (NAME.py).
_SAMPLE = re.compile(r"```python\n# example: (?P<name>[\w.]+)\n(?P<code>.*?)```", re.DOTALL)
_TEST = re.compile(r"^(?:async )?def (test_\w+)", re.MULTILINE)


def _pages() -> list[Path]:
    return sorted(DOCS.glob("*.md"))


def test_every_page_has_samples() -> None:
    assert [page.name for page in _pages()] == ["transactions.md"]
    for page in _pages():
        assert _SAMPLE.search(page.read_text()), f"{page.name} has no executed sample"


@pytest.mark.parametrize("page", _pages(), ids=lambda page: page.name)
def test_samples_of_the_page_pass(pytester: pytest.Pytester, page: Path) -> None:
    samples = {match["name"]: match["code"] for match in _SAMPLE.finditer(page.read_text())}
    tests = []
    for name, code in samples.items():
        module = name if name.endswith(".py") else f"{name}.py"
        pytester.path.joinpath(module).write_text(code)
        tests += _TEST.findall(code) if module.startswith("test_") else []
    # pytest-asyncio before 0.24 knows no loop scope option, and warns of it.
    loop_scope = (
        "asyncio_default_fixture_loop_scope = function"
        if Version(version("pytest-asyncio")) >= Version("0.24")
        else ""
    )
    pytester.makeini(
        f"""
        [pytest]
        pythonpath = .
        asyncio_mode = auto
        {loop_scope}
        """
    )
    result = pytester.runpytest("-p", "no:randomly", "-W", "error", "-v")
    result.assert_outcomes(passed=len(tests))
    result.stdout.fnmatch_lines_random([f"*::{test} PASSED*" for test in tests])
