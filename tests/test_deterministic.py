"""Deterministic message ids and timestamps."""

from __future__ import annotations

import json

import pytest

from conftest import pyproject_source

MESSAGES = """
import json
import os
from datetime import datetime, timedelta, timezone
from uuid import UUID

import pytest
from lastuuid.dummies import uuidgen
from library.domain import BookLent, LendBook, RegisterBook
from messagebus import Command, Metadata
from pydantic import ConfigDict

deterministic = pytest.mark.messagebus_deterministic
REGISTER = RegisterBook(id=UUID(int=1), isbn="1", title="T", author="A")
ORIGINAL = (REGISTER.message_id, REGISTER.created_at)
AWARE = RegisterBook.model_fields["created_at"].default_factory().tzinfo is not None
START = datetime(2000, 1, 1, tzinfo=timezone.utc if AWARE else None)


class Note(Command):
    # Frozen, and handled by no handler: the bus stores and publishes it.
    model_config = ConfigDict(frozen=True)
    text: str
    metadata: Metadata = Metadata(name="note", schema_version=1, published=True)


async def handle(bus, uow, *commands):
    async with uow as transaction:
        for command in commands:
            await bus.handle(command, transaction)
        await transaction.commit()
"""


def test_marked_test_numbers_its_messages_and_restores_shared_ones(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        MESSAGES
        + """
@deterministic
async def test_numbered(bus, uow, eventstore, transport):
    await handle(bus, uow, REGISTER)
    assert [m.message_id for m in eventstore.messages] == [uuidgen(1), uuidgen(2)]
    assert [m.created_at for m in eventstore.messages] == [
        START,
        START + timedelta(milliseconds=1),
    ]
    assert transport.events[0]["id"] == "00000001-0000-0000-0000-000000000000"
    assert transport.events[0]["created_at"] == START.isoformat()


@deterministic
async def test_numbering_restarts_for_each_test(bus, uow, eventstore):
    await handle(bus, uow, REGISTER, LendBook(id=REGISTER.id, to="Bob"))
    assert [m.message_id for m in eventstore.messages] == [uuidgen(n) for n in (1, 2, 3, 4)]


async def test_unmarked_test_keeps_the_real_values(bus, uow, eventstore):
    assert (REGISTER.message_id, REGISTER.created_at) == ORIGINAL
    await handle(bus, uow, REGISTER)
    assert eventstore.messages[1].message_id != uuidgen(2)
    assert eventstore.messages[1].created_at.year > 2000
"""
    )
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=3)


def test_numbering_covers_fixtures_and_restarts_after_the_given_phase(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        MESSAGES
        + """
@pytest.fixture
async def registered(bus, uow):
    await handle(bus, uow, RegisterBook(id=UUID(int=2), isbn="2", title="U", author="B"))
    return uow.books.books[UUID(int=2)]


@deterministic
def test_fixture_messages_are_numbered(registered, eventstore):
    assert [m.message_id for m in eventstore.messages] == [uuidgen(1), uuidgen(2)]


@deterministic
@pytest.mark.messagebus_given(REGISTER)
async def test_act_starts_at_one(bus, uow, eventstore):
    await handle(bus, uow, LendBook(id=REGISTER.id, to="Bob"))
    assert eventstore.messages[1] == BookLent(id=REGISTER.id, to="Bob")
    assert [m.message_id for m in eventstore.messages] == [uuidgen(1), uuidgen(2)]
"""
    )
    result = project.runpytest("-p", "no:randomly", "-o", "asyncio_mode=auto")
    result.assert_outcomes(passed=2)


def test_ini_option_numbers_every_test(project: pytest.Pytester) -> None:
    project.makepyfile(
        MESSAGES
        + """
async def test_unmarked(bus, uow, eventstore):
    await handle(bus, uow, REGISTER)
    assert eventstore.messages[0].message_id == uuidgen(1)


def test_shared_message_restored():
    assert (REGISTER.message_id, REGISTER.created_at) == ORIGINAL
"""
    )
    result = project.runpytest("-p", "no:randomly", "-o", "messagebus_deterministic=true")
    result.assert_outcomes(passed=2)


@pytest.mark.parametrize(
    "ini",
    [
        pyproject_source("messagebus_deterministic = true"),
        pytest.param(
            pyproject_source('messagebus_deterministic = "yes"', table="tool.pytest"),
            marks=pytest.mark.skipif(
                int(pytest.__version__.split(".")[0]) < 9,
                reason="pytest 9 reads the [tool.pytest] table",
            ),
        ),
    ],
    ids=["ini_options", "tool.pytest"],
)
def test_ini_option_in_pyproject(pytester: pytest.Pytester, ini: str) -> None:
    pytester.makepyprojecttoml(ini)
    pytester.makepyfile(
        """
from lastuuid.dummies import uuidgen
from messagebus import Command, Metadata
from pytest_messagebus_eventstore import assert_messages


class Note(Command):
    text: str
    metadata: Metadata = Metadata(name="note", schema_version=1)


async def test_numbered(eventstore):
    await eventstore.add(Note(text="hi"))
    assert eventstore.messages[0].message_id == uuidgen(1)
"""
    )
    result = pytester.runpytest("-p", "no:randomly", "-o", "asyncio_mode=auto")
    result.assert_outcomes(passed=1)


def test_marker_false_opts_a_test_out_of_the_ini_option(project: pytest.Pytester) -> None:
    project.makepyfile(
        MESSAGES
        + """
async def test_numbered(bus, uow, eventstore):
    await handle(bus, uow, REGISTER)
    assert eventstore.messages[0].message_id == uuidgen(1)


@pytest.mark.messagebus_deterministic(False)
async def test_opted_out(bus, uow, eventstore):
    await handle(bus, uow, REGISTER)
    assert eventstore.messages[0].message_id != uuidgen(1)


@pytest.mark.messagebus_deterministic(enabled=False)
class TestOptedOut:
    async def test_in_class(self, bus, uow, eventstore):
        await handle(bus, uow, REGISTER)
        assert eventstore.messages[0].message_id != uuidgen(1)

    @deterministic(True)
    async def test_back_in(self, bus, uow, eventstore):
        await handle(bus, uow, REGISTER)
        assert eventstore.messages[0].message_id == uuidgen(1)
"""
    )
    result = project.runpytest("-p", "no:randomly", "-o", "messagebus_deterministic=true")
    result.assert_outcomes(passed=4)
    # Without the ini option, a marker that says False numbers nothing either.
    result = project.runpytest("-p", "no:randomly", "-k", "opted_out or in_class or back_in")
    result.assert_outcomes(passed=3)


def test_invalid_marker_arguments_are_collection_errors(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_bad=MESSAGES
        + """
pytestmark = pytest.mark.messagebus_deterministic("on")

async def test_one(bus, uow, eventstore):
    raise RuntimeError("the body ran")

async def test_other(bus, uow, eventstore):
    raise RuntimeError("the body ran")
"""
    )
    result = project.runpytest("-p", "no:randomly")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR collecting test_bad.py _*",
            "In test_bad.py: @pytest.mark.messagebus_deterministic('on') is not valid; its "
            "signature is messagebus_deterministic(enabled=True), enabled True or False",
            "*Interrupted: 1 error during collection*",
        ]
    )
    result.stdout.no_fnmatch_line("*the body ran*")


def test_two_runs_send_byte_identical_events(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.makepyfile(
        MESSAGES
        + """
@deterministic
async def test_events(bus, uow, transport):
    await handle(bus, uow, REGISTER, LendBook(id=REGISTER.id, to="Bob"), Note(text="hi"))
    with open(os.environ["EVENTS_FILE"], "w") as out:
        json.dump(transport.events, out)
"""
    )
    outputs = []
    for run in ("first", "second"):
        path = project.path / f"{run}.json"
        monkeypatch.setenv("EVENTS_FILE", str(path))
        project.runpytest_subprocess().assert_outcomes(passed=1)
        outputs.append(path.read_bytes())
    assert outputs[0] == outputs[1]
    events = json.loads(outputs[0])
    assert [(event["type"], event["id"][:8]) for event in events] == [
        ("register_book_v1", "00000001"),
        ("book_lent_v1", "00000004"),
        ("note_v1", "00000005"),
    ]


def test_marker_and_ini_option_are_documented(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(
        [
            "@pytest.mark.messagebus_deterministic(enabled=True): give the messages recorded "
            "during the test *messagebus_deterministic(False) opts a test out of the "
            "messagebus_deterministic ini option."
        ]
    )
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*messagebus_deterministic (bool):*"])


def test_fixture_listing_shows_no_empty_section(pytester: pytest.Pytester) -> None:
    # The numbering fixture is private: listed with -v only, under the plugin's section.
    result = pytester.runpytest("--fixtures")
    result.stdout.no_fnmatch_line("*fixtures defined from *_deterministic*")
    result.stdout.no_fnmatch_line("_messagebus_deterministic*")
    result = pytester.runpytest("--fixtures", "-v")
    result.stdout.fnmatch_lines(
        [
            "*fixtures defined from pytest_messagebus_eventstore.plugin*",
            "*_messagebus_deterministic -- *",
            "*Numbers the messages of a ``messagebus_deterministic`` test.",
        ]
    )
