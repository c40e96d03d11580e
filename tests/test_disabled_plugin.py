"""``-p no:messagebus_eventstore``: conftests implementing the plugin's hooks still load."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "reading_club"
OPTIONAL = "@pytest.hookimpl(optionalhook=True)\n"
DISABLED = ("-p", "no:messagebus_eventstore", "-p", "no:cacheprovider")
# The example's addopts make unknown ini options and markers usage errors, and
# without the plugin its messagebus_* options and markers are unknown: the run
# would end in a usage error, whatever the conftest's hooks do.
EXAMPLE_DISABLED = (*DISABLED, "-o", "addopts=")


def test_example_runs_with_the_plugin_disabled(pytester: pytest.Pytester) -> None:
    example = pytester.path / "reading_club"
    shutil.copytree(EXAMPLE, example, ignore=shutil.ignore_patterns("__pycache__", ".*"))
    conftest = example / "tests" / "conftest.py"
    source = conftest.read_text()
    assert f"{OPTIONAL}def pytest_messagebus_repositories(" in source

    result = pytester.runpytest_subprocess(str(example), *EXAMPLE_DISABLED)
    # Its tests need the plugin's fixtures: each errors at set-up, as any
    # test does whose fixture is missing; pytest itself runs to the end.
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    outcomes = result.parseoutcomes()
    assert outcomes["errors"] > 0
    assert not outcomes.keys() & {"passed", "failed"}
    result.stdout.fnmatch_lines(["E       fixture 'bus' not found"])
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()

    # Without optionalhook, pytest refuses the conftest's hook.
    conftest.write_text(source.replace(OPTIONAL, ""))
    result = pytester.runpytest_subprocess(str(example), *EXAMPLE_DISABLED)
    assert result.ret == pytest.ExitCode.INTERNAL_ERROR
    result.stdout.fnmatch_lines(
        [
            "INTERNALERROR> *PluginValidationError: unknown hook "
            "'pytest_messagebus_repositories' in plugin *conftest.py*"
        ]
    )


HOOKS = """
from messagebus import AbstractMessageSerializer
from pytest_messagebus_eventstore import InMemoryEventstreamTransport


class TitleSerializer(AbstractMessageSerializer):
    def serialize_message(self, message):
        return {"title": message.title}


@pytest.hookimpl(optionalhook=True)
def pytest_messagebus_repositories(config):
    return {"books": FakeBookRepository()}


@pytest.hookimpl(optionalhook=True)
def pytest_messagebus_sync_repositories(config):
    return {"books": SyncFakeBookRepository()}


@pytest.hookimpl(optionalhook=True)
def pytest_messagebus_make_transport(config):
    return InMemoryEventstreamTransport()


@pytest.hookimpl(optionalhook=True)
def pytest_messagebus_make_serializer(config):
    return TitleSerializer()
"""

TESTS = """
from uuid import UUID

from library.domain import Book, RegisterBook

REGISTER = RegisterBook(id=UUID(int=1), isbn="1", title="T", author="A")


def test_domain_only():
    assert Book(id=REGISTER.id, isbn="1", title="T", author="A").title == "T"


async def test_with_the_plugin(bus, uow, transport, sync_uow):
    async with uow as transaction:
        await bus.handle(REGISTER, transaction)
        await transaction.commit()
    assert uow.books.books[REGISTER.id].title == "T"
    assert sync_uow.books is not None
    assert transport.events == [{"title": "T"}]
"""


def test_optional_hooks_work_with_the_plugin_and_load_without_it(
    project: pytest.Pytester,
) -> None:
    fakes = (project.path / "conftest.py").read_text().partition("@pytest.fixture")[0]
    project.makeconftest(fakes + textwrap.dedent(HOOKS))
    project.makepyfile(TESTS)
    project.runpytest().assert_outcomes(passed=2)

    result = project.runpytest(*DISABLED)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["E       fixture 'bus' not found"])

    project.makeconftest(fakes + textwrap.dedent(HOOKS).replace(OPTIONAL, ""))
    result = project.runpytest(*DISABLED)
    assert result.ret == pytest.ExitCode.INTERNAL_ERROR
    result.stdout.fnmatch_lines(
        ["INTERNALERROR> *PluginValidationError: unknown hook 'pytest_messagebus_*"]
    )
