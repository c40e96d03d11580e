"""The quick start's ini works, under --strict-config, on every supported pytest-asyncio."""

from __future__ import annotations

import pytest

from conftest import PYTEST_ASYNCIO


def test_the_loop_scope_option_is_known_on_every_release(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        """
        [pytest]
        asyncio_mode = auto
        asyncio_default_fixture_loop_scope = function
        """
    )
    pytester.makepyfile("async def test_async(): pass")
    result = pytester.runpytest_subprocess("--strict-config", "-W", "error", "-p", "no:randomly")
    result.assert_outcomes(passed=1)


def test_the_plugin_declares_it_for_pytest_asyncio_0_23_only(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--help")
    # The help text is wrapped: its last words are on a line of their own.
    declared_by_us = "*pytest-messagebus-eventstore for 0.23*"
    if PYTEST_ASYNCIO < (0, 24):
        result.stdout.fnmatch_lines(
            ["*asyncio_default_fixture_loop_scope (string):*", declared_by_us]
        )
    else:
        result.stdout.no_fnmatch_line(declared_by_us)
        result.stdout.fnmatch_lines(["*asyncio_default_fixture_loop_scope*"])
