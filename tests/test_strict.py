"""Strict mode: every recorded message and streamed event must be asserted."""

from __future__ import annotations

import pytest

# Shared with the in-process runs below (see test_assertions.py).
import pytest_messagebus_eventstore.assertions  # noqa: F401
from conftest import pyproject_source

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


def test_invalid_marker_arguments_are_collection_errors(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_bad=HEADER
        + """
@pytest.mark.messagebus_strict("yes")
async def test_word(bus, uow, eventstore):
    raise RuntimeError("the body ran")

@pytest.mark.messagebus_strict(True, False)
@pytest.mark.parametrize("n", [1, 2])
def test_two(n):
    raise RuntimeError("the body ran")

@pytest.mark.messagebus_strict(True, enabled=True)
def test_both():
    raise RuntimeError("the body ran")

@pytest.mark.messagebus_strict(on=True)
def test_keyword():
    raise RuntimeError("the body ran")

@pytest.mark.messagebus_strict(enabled=1)
class TestNumber:
    def test_one(self):
        raise RuntimeError("the body ran")

    def test_other(self):
        raise RuntimeError("the body ran")

@pytest.mark.messagebus_strict(enabled=False)
def test_valid():
    pass
"""
    )
    result = project.runpytest("-p", "no:randomly")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.assert_outcomes(errors=5)
    signature = (
        "is not valid; its signature is messagebus_strict(enabled=True), enabled True or False"
    )
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR collecting test_bad.py _*",
            f"In test_bad.py::test_word: @pytest.mark.messagebus_strict('yes') {signature}",
            "*_ ERROR collecting test_bad.py _*",
            f"In test_bad.py::test_two: @pytest.mark.messagebus_strict(True, False) {signature}",
            "*_ ERROR collecting test_bad.py _*",
            "In test_bad.py::test_both: @pytest.mark.messagebus_strict(True, enabled=True) "
            f"{signature}",
            "*_ ERROR collecting test_bad.py _*",
            f"In test_bad.py::test_keyword: @pytest.mark.messagebus_strict(on=True) {signature}",
            "*_ ERROR collecting test_bad.py _*",
            f"In test_bad.py::TestNumber: @pytest.mark.messagebus_strict(enabled=1) {signature}",
            "*Interrupted: 5 errors during collection*",
        ]
    )
    result.stdout.no_fnmatch_line("*the body ran*")
    # With the collection errors let through, the other tests run, not these.
    result = project.runpytest("-p", "no:randomly", "--continue-on-collection-errors")
    result.assert_outcomes(passed=1, errors=5)
    result.stdout.no_fnmatch_line("*the body ran*")


def test_invalid_marker_applied_while_the_test_runs_errors_at_teardown(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        test_bad=HEADER
        + """
async def test_applied(request, bus, uow, eventstore):
    request.applymarker(pytest.mark.messagebus_strict("no"))
    await register(bus, uow)
"""
    )
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_applied _*",
            "In test_bad.py::test_applied: @pytest.mark.messagebus_strict('no') is not valid; "
            "its signature is messagebus_strict(enabled=True), enabled True or False",
        ]
    )


def test_marker_and_ini_option_are_registered_with_help(pytester: pytest.Pytester) -> None:
    markers = pytester.runpytest("--markers")
    markers.stdout.fnmatch_lines(
        [
            "@pytest.mark.messagebus_strict(enabled=True): every message the test records "
            "and every event it streams must be checked by assert_messages*"
        ]
    )
    options = pytester.runpytest("--help")
    options.stdout.fnmatch_lines(["  messagebus_strict (bool):*", "*assert_messages*"])


def test_a_freed_message_s_address_does_not_pass_a_new_one_as_checked(
    project: pytest.Pytester,
) -> None:
    # CPython gives a freed object's memory to the next object of its size:
    # a message checked in a throw-away list, then dropped, leaves its address
    # to the next message created, which the bus then records. The loop stops
    # at the first address taken again; kept by strict mode, none is.
    strict_ini(project, "true")
    project.makepyfile(
        test_reuse=HEADER
        + """
async def test_reused_address(bus, uow, eventstore, transport):
    checked = set()
    for n in range(100):
        throwaway = [RegisterBook(id=ID, isbn=str(n), title="DDD", author="Evans")]
        assert_messages(throwaway, [RegisterBook])
        checked.add(id(throwaway[0]))
        del throwaway
        command = RegisterBook(id=ID, isbn="1", title="DDD", author="Evans")
        if id(command) in checked:
            break
    async with uow as transaction:
        await bus.handle(command, transaction)
        await transaction.commit()
    assert_messages(eventstore.messages[1:], [BookRegistered])
    assert_messages(transport, [RegisterBook])
"""
    )
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_reused_address _*",
            "messagebus strict mode: 1 recorded item(s) not checked by assert_messages:",
            "  message [[]0[]] RegisterBook(*)",
            "To opt this test out, mark it @pytest.mark.messagebus_strict(False).",
        ]
    )


def test_a_freed_event_s_address_does_not_pass_a_new_one_as_checked(
    project: pytest.Pytester,
) -> None:
    # As for messages: an event checked, then cleared from the transport.
    strict_ini(project, "true")
    project.makepyfile(
        test_reuse=HEADER
        + """
async def test_reused_address(transport, messagebus_serializer):
    checked = set()
    for _ in range(100):
        await transport.send_message_serialized(messagebus_serializer.serialize_message(CMD))
        assert_messages(transport, [RegisterBook])
        checked.add(id(transport.events[0]))
        transport.events.clear()
        event = messagebus_serializer.serialize_message(CMD)
        if id(event) in checked:
            break
    await transport.send_message_serialized(event)
"""
    )
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_reused_address _*",
            "messagebus strict mode: 1 recorded item(s) not checked by assert_messages:",
            "  transport event [[]0[]] register_book_v1(*)",
        ]
    )


PYTEST_9 = int(pytest.__version__.split(".")[0]) >= 9
TOML_TABLE = pytest.mark.skipif(not PYTEST_9, reason="pytest 9 reads the [tool.pytest] table")
PYPROJECT = """
pythonpath = {paths}
asyncio_mode = "auto"
messagebus_scan = {scan}
{option} = {value}
"""


def configure(project: pytest.Pytester, option: str, source: str, value: str) -> list[str]:
    """Set ini option ``option`` in ``source``; the arguments that pytest then needs."""
    if source == "-o":
        return ["-o", f"{option}={value}"]
    if source == "tox.ini":
        ini = project.path / "tox.ini"
        ini.write_text(ini.read_text().rstrip() + f"\n{option} = {value}\n")
        return []
    (project.path / "tox.ini").unlink()
    native = source == "[tool.pytest]"
    project.makepyprojecttoml(
        pyproject_source(
            PYPROJECT.format(
                paths='["."]' if native else '"."',
                scan='["library.handlers"]' if native else '"library.handlers"',
                option=option,
                value=value,
            ),
            table="tool.pytest" if native else "tool.pytest.ini_options",
        )
    )
    return []


@pytest.mark.parametrize(
    ("source", "value", "strict"),
    [
        ("tox.ini", "yes", True),
        ("tox.ini", "On", True),
        ("tox.ini", "1", True),
        ("tox.ini", "no", False),
        ("-o", "TRUE", True),
        ("-o", "off", False),
        ("[tool.pytest.ini_options]", "true", True),
        ("[tool.pytest.ini_options]", '"0"', False),
        pytest.param("[tool.pytest]", "true", True, marks=TOML_TABLE),
        pytest.param("[tool.pytest]", "false", False, marks=TOML_TABLE),
        pytest.param("[tool.pytest]", '"yes"', True, marks=TOML_TABLE),
    ],
)
def test_ini_option_takes_booleans_in_each_form(
    project: pytest.Pytester, source: str, value: str, strict: bool
) -> None:
    args = configure(project, "messagebus_strict", source, value)
    project.makepyfile(
        test_ini=HEADER
        + """
async def test_unchecked(bus, uow, eventstore):
    await register(bus, uow)
"""
    )
    result = project.runpytest("-p", "no:randomly", *args)
    result.assert_outcomes(passed=1, errors=int(strict))
    if strict:
        result.stdout.fnmatch_lines(["messagebus strict mode: 3 recorded item(s) not checked *"])


@pytest.mark.parametrize("option", ["messagebus_strict", "messagebus_deterministic"])
@pytest.mark.parametrize(
    ("source", "value", "shown"),
    [
        ("tox.ini", "Maybe", "'Maybe'"),
        ("-o", "2", "'2'"),
        ("[tool.pytest.ini_options]", '"sometimes"', "'sometimes'"),
        pytest.param("[tool.pytest]", '"never"', "'never'", marks=TOML_TABLE),
        pytest.param("[tool.pytest]", "2", "2", marks=TOML_TABLE),
    ],
)
def test_a_bad_boolean_is_a_usage_error_worded_alike_for_each_option(
    project: pytest.Pytester, option: str, source: str, value: str, shown: str
) -> None:
    args = configure(project, option, source, value)
    project.makepyfile("def test_nothing(): pass")
    result = project.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            f"ERROR: ini option {option} = {shown} is not a boolean; use true or false "
            "(also accepted: yes/no, on/off, 1/0)"
        ]
    )


def test_a_check_made_before_the_bus_records_the_message_does_not_count(
    project: pytest.Pytester,
) -> None:
    strict_ini(project, "true")
    project.makepyfile(
        test_early=HEADER
        + """
async def test_checked_too_early(bus, uow, eventstore, transport):
    assert_messages([CMD], [CMD])
    await register(bus, uow)
    assert_messages(eventstore.messages[1:], [EVENT])
    assert_messages(transport, [CMD])

async def test_recorded_again_after_its_check(bus, uow, eventstore, transport):
    await register(bus, uow)
    assert_messages(eventstore, [CMD, EVENT])
    await register(bus, uow)
    assert_messages(eventstore.messages[3:], [EVENT])
    assert_messages(transport, [CMD, CMD])
"""
    )
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_checked_too_early _*",
            "messagebus strict mode: 1 recorded item(s) not checked by assert_messages:",
            "  message [[]0[]] RegisterBook(*)",
            "*_ ERROR at teardown of test_recorded_again_after_its_check _*",
            "messagebus strict mode: 1 recorded item(s) not checked by assert_messages:",
            "  message [[]2[]] RegisterBook(*)",
        ]
    )


def test_each_hypothesis_example_checks_what_it_streams(project: pytest.Pytester) -> None:
    # Explicit examples only, in order: in the first test, the last example
    # leaves the fixture's event unchecked.
    project.makepyfile(
        test_examples=HEADER
        + """
from hypothesis import HealthCheck, Phase, example, given, settings, strategies

# No deadline: a loaded machine must not turn a slow example into a failure.
explicit = settings(
    phases=[Phase.explicit],
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    deadline=None,
)

@pytest.fixture
async def sent(transport, messagebus_serializer):
    await transport.send_message_serialized(messagebus_serializer.serialize_message(CMD))

@pytest.mark.messagebus_strict
@explicit
@example(check=True)
@example(check=False)
@given(check=strategies.booleans())
async def test_last_example_does_not_check(sent, transport, check):
    if check:
        assert_messages(transport, [CMD])

@pytest.mark.messagebus_strict
@explicit
@example(check=False)
@example(check=True)
@given(check=strategies.booleans())
async def test_last_example_checks(sent, transport, check):
    if check:
        assert_messages(transport, [CMD])
"""
    )
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_last_example_does_not_check _*",
            "messagebus strict mode: 1 recorded item(s) not checked by assert_messages:",
            "  transport event [[]0[]] register_book_v1(*)",
        ]
    )


def test_each_hypothesis_example_checks_what_its_store_holds(project: pytest.Pytester) -> None:
    # The fixture's messages are in the store before the first example; each
    # later example starts from them again, and checking them must count.
    project.makepyfile(
        test_examples=HEADER
        + """
from hypothesis import HealthCheck, given, settings, strategies

@pytest.fixture
async def registered(bus, uow):
    await register(bus, uow)

@pytest.mark.messagebus_strict
@settings(
    max_examples=5, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)
@given(title=strategies.sampled_from(["DDD", "TDD"]))
async def test_examples_check_the_store(registered, bus, uow, eventstore, transport, title):
    async with uow as transaction:
        await bus.handle(CMD.model_copy(update={"title": title}), transaction)
        await transaction.commit()
    assert_messages(eventstore, [CMD, EVENT, RegisterBook, BookRegistered])
    assert_messages(transport, [CMD, RegisterBook])
"""
    )
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1)
