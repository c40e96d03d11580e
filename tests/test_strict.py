"""Strict mode: every recorded message and streamed event must be asserted."""

from __future__ import annotations

import pytest

# Shared with the in-process runs below (see test_assertions.py).
import pytest_messagebus_eventstore.assertions  # noqa: F401

HEADER = """
from uuid import UUID

import pytest
from library.domain import BookRegistered, RegisterBook
from pytest_messagebus_eventstore import assert_messages

ID = UUID(int=1)
CMD = RegisterBook(id=ID, isbn="1", title="DDD", author="Evans")
EVENT = BookRegistered(id=ID, isbn="1", title="DDD", author="Evans")


async def register(bus, uow):
    async with uow as transaction:
        await bus.handle(CMD, transaction)
        await transaction.commit()
"""


def strict_ini(project: pytest.Pytester, value: str) -> None:
    ini = project.path / "tox.ini"
    ini.write_text(ini.read_text().rstrip() + f"\nmessagebus_strict = {value}\n")


def test_unchecked_messages_error_at_teardown(project: pytest.Pytester) -> None:
    strict_ini(project, "true")
    project.makepyfile(
        test_strict_flow=HEADER
        + """
async def test_plain_equality(bus, uow, eventstore, transport):
    await register(bus, uow)
    assert eventstore.messages == [CMD, EVENT]

async def test_partly_checked(bus, uow, eventstore, transport):
    await register(bus, uow)
    assert_messages(eventstore, [CMD, EVENT])

async def test_all_checked(bus, uow, eventstore, transport):
    await register(bus, uow)
    assert_messages(eventstore, [CMD, EVENT])
    assert_messages(transport, [CMD])

async def test_rolled_back_need_no_check(bus, uow, eventstore):
    async with uow as transaction:
        await bus.handle(CMD, transaction)
        await transaction.rollback()

@pytest.mark.messagebus_strict(False)
async def test_opted_out(bus, uow, eventstore):
    await register(bus, uow)

async def test_failing_is_not_doubled(bus, uow, eventstore):
    await register(bus, uow)
    assert False
"""
    )
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=5, failed=1, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_plain_equality _*",
            "messagebus strict mode: 3 recorded item(s) not checked by assert_messages:",
            "  message [[]0[]] RegisterBook(id=UUID('00000000-0000-0000-0000-000000000001'), "
            "isbn='1', title='DDD', author='Evans')",
            "  message [[]1[]] BookRegistered(*)",
            "  transport event [[]0[]] register_book_v1(*)",
            "Check them with assert_messages(eventstore, [[]...[]]) or "
            "assert_messages(transport, [[]...[]]); a plain == cannot be tracked.",
            "To opt this test out, mark it @pytest.mark.messagebus_strict(False).",
            "*_ ERROR at teardown of test_partly_checked _*",
            "messagebus strict mode: 1 recorded item(s) not checked by assert_messages:",
            "  transport event [[]0[]] register_book_v1(*)",
        ]
    )
    result.stdout.no_fnmatch_line("*ERROR at teardown of test_failing_is_not_doubled*")


def test_marker_on_module_class_and_test_closest_wins(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_markers=HEADER
        + """
pytestmark = pytest.mark.messagebus_strict

async def test_module_strict(bus, uow, eventstore):
    await register(bus, uow)

@pytest.mark.messagebus_strict(enabled=False)
class TestLenient:
    async def test_class_lenient(self, bus, uow, eventstore):
        await register(bus, uow)

    @pytest.mark.messagebus_strict(True)
    async def test_strict_again(self, bus, uow, eventstore):
        await register(bus, uow)

async def test_without_bus():
    pass
"""
    )
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=4, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_module_strict _*",
            "messagebus strict mode: 3 recorded item(s) not checked by assert_messages:",
            "*_ ERROR at teardown of TestLenient.test_strict_again _*",
        ]
    )


def test_marker_applied_while_the_test_runs(project: pytest.Pytester) -> None:
    # Markers are looked up at collection; a test may still mark itself.
    project.makepyfile(
        test_applied=HEADER
        + """
async def test_marks_itself(request, bus, uow, eventstore):
    request.applymarker(pytest.mark.messagebus_strict)
    await register(bus, uow)

@pytest.fixture
def strict(request):
    request.applymarker(pytest.mark.messagebus_strict(True))

async def test_marked_by_a_fixture(strict, bus, uow, eventstore):
    await register(bus, uow)
"""
    )
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_marks_itself _*",
            "messagebus strict mode: 3 recorded item(s) not checked by assert_messages:",
            "*_ ERROR at teardown of test_marked_by_a_fixture _*",
        ]
    )


def test_opt_out_applied_while_the_test_runs(project: pytest.Pytester) -> None:
    strict_ini(project, "true")
    project.makepyfile(
        test_applied=HEADER
        + """
async def test_opts_itself_out(request, bus, uow, eventstore):
    request.applymarker(pytest.mark.messagebus_strict(False))
    await register(bus, uow)

async def test_strict(bus, uow, eventstore):
    await register(bus, uow)
"""
    )
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*_ ERROR at teardown of test_strict _*"])
    result.stdout.no_fnmatch_line("*ERROR at teardown of test_opts_itself_out*")


def test_invalid_ini_value_is_a_usage_error(project: pytest.Pytester) -> None:
    strict_ini(project, "maybe")
    project.makepyfile("def test_nothing(): pass")
    result = project.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: messagebus_strict = 'maybe' is not a boolean; "
            "use one of: true, yes, on, 1 / false, no, off, 0"
        ]
    )


def test_invalid_marker_argument_fails_the_test(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_bad=HEADER
        + """
@pytest.mark.messagebus_strict("yes")
async def test_bad(bus, uow, eventstore):
    await register(bus, uow)
"""
    )
    result = project.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["@pytest.mark.messagebus_strict(enabled=...) expects True or False, got 'yes'"]
    )


def test_marker_and_ini_option_are_registered_with_help(pytester: pytest.Pytester) -> None:
    quiet = ("-o", "asyncio_default_fixture_loop_scope=function")
    markers = pytester.runpytest("--markers", *quiet)
    markers.stdout.fnmatch_lines(
        [
            "@pytest.mark.messagebus_strict(enabled=True): every message the test records "
            "and every event it streams must be checked by assert_messages*"
        ]
    )
    options = pytester.runpytest("--help", *quiet)
    options.stdout.fnmatch_lines(["  messagebus_strict (string):*", "*assert_messages*"])
