"""The configuration every inner project starts with (conftest.ASYNCIO_OPTIONS)."""

from __future__ import annotations

import pytest

from conftest import ini_source, pyproject_source

ASYNC_TEST = """
import pytest


@pytest.mark.asyncio
async def test_async():
    pass
"""


@pytest.mark.parametrize("kind", ["ini", "pyproject"])
@pytest.mark.parametrize("plugin", ["with the plugin", "without the plugin"])
def test_inner_runs_are_warning_free_on_the_installed_pytest_asyncio(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, kind: str, plugin: str
) -> None:
    # Every warning an error, and an option nothing declares too, whether or not
    # the plugin is there to declare the loop scope for pytest-asyncio 0.23.
    # pytest 8 drops a deprecation warning raised while plugins are configured,
    # as pytest-asyncio's is, unless Python's own filters make it an error.
    monkeypatch.setenv("PYTHONWARNINGS", "error::DeprecationWarning")
    if kind == "pyproject":
        pytester.makepyprojecttoml(pyproject_source())
    else:
        pytester.makeini(ini_source())
    pytester.makepyfile(test_async=ASYNC_TEST)
    args = ["-p", "no:randomly", "--strict-config", "-W", "error"]
    if plugin == "without the plugin":
        args += ["-p", "no:messagebus_eventstore"]
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(passed=1, warnings=0)
    assert result.ret == pytest.ExitCode.OK
