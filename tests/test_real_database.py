"""The plugin records any message store: the example's SQL unit of work on SQLite."""

from __future__ import annotations

from pathlib import Path

import aiosqlite  # noqa: F401
import messagebus  # noqa: F401
import pytest
import sqlalchemy.ext.asyncio  # noqa: F401

from conftest import ini_source

# Imported here so that they stay in sys.modules across the in-process pytester
# runs: SQLAlchemy does not survive being imported a second time in a process,
# and messages must be instances of the one messagebus the plugin sees.

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "reading_club"

CONFTEST = """
import pytest
from messagebus import AsyncEventstreamPublisher
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import StaticPool

from reading_club.adapters.sql import SqlUnitOfWork, create_schema


@pytest.fixture
async def engine():
    engine = create_async_engine("sqlite+aiosqlite://", poolclass=StaticPool)
    await create_schema(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def uow(engine, transport):
    return SqlUnitOfWork(engine, AsyncEventstreamPublisher(transport))
"""

HEADER = """
import pytest
import sqlalchemy as sa
from lastuuid.dummies import uuidgen
from reading_club.adapters.sql import messages
from reading_club.domain import (
    BookRegistered, RegisterBook, RegisterReviewer, ReviewerRegistered
)
from pytest_messagebus_eventstore import assert_messages, like, recorded_messages

DDD = RegisterBook(id=uuidgen(1), isbn="0-321-12521-5", title="DDD", author="Evans")
ALICE = RegisterReviewer(id=uuidgen(10), nickname="alice", email="alice@example.org")


async def handle(bus, uow, command):
    async with uow as transaction:
        await bus.handle(command, transaction)
        await transaction.commit()


async def stored_rows(engine):
    async with engine.connect() as connection:
        return (await connection.execute(sa.select(messages.c.id, messages.c.type))).all()
"""


@pytest.fixture
def sql_project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(
        ini_source(
            f"""
            pythonpath = {EXAMPLE}
            asyncio_mode = auto
            messagebus_scan = reading_club.service.handlers
            """
        )
    )
    pytester.makeconftest(CONFTEST)
    return pytester


def test_assert_messages_reads_the_sql_store_committed_only(sql_project: pytest.Pytester) -> None:
    sql_project.makepyfile(
        HEADER
        + """
async def test_committed_and_rolled_back(bus, uow, engine, transport):
    await handle(bus, uow, DDD)
    with pytest.raises(RuntimeError):
        async with uow as transaction:
            await bus.handle(ALICE, transaction)
            raise RuntimeError("after the reviewer")

    assert_messages(uow, [DDD, like(BookRegistered, title="DDD")])
    assert_messages(transport, [BookRegistered])
    rolled_back = recorded_messages(uow, include_rolled_back=True)
    assert [type(m).__name__ for m in rolled_back] == [
        "RegisterBook", "BookRegistered", "RegisterReviewer", "ReviewerRegistered"
    ]
    # Recording changes nothing in what the store does: only committed rows.
    assert [row.type for row in await stored_rows(engine)] == [
        "register_book_v1", "book_registered_v1"
    ]


async def test_a_difference_is_reported_field_by_field(bus, uow):
    await handle(bus, uow, DDD)
    assert_messages(uow, [DDD.model_copy(update={"title": "Other"}), BookRegistered])
"""
    )
    result = sql_project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*title*'Other'*'DDD'*"])


def test_strict_test_on_sqlite_errors_at_teardown_on_unchecked_message(
    sql_project: pytest.Pytester,
) -> None:
    sql_project.makepyfile(
        HEADER
        + """
@pytest.mark.messagebus_strict
async def test_checks_only_the_command(bus, uow, transport):
    await handle(bus, uow, DDD)
    assert_messages(uow, [DDD, BookRegistered])
    # The published BookRegistered event was streamed and is never checked.


@pytest.mark.messagebus_strict
async def test_checks_everything(bus, uow, transport):
    await handle(bus, uow, DDD)
    assert_messages(uow, [DDD, BookRegistered])
    assert_messages(transport, [BookRegistered])
"""
    )
    result = sql_project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_checks_only_the_command _*",
            "messagebus strict mode: 1 recorded item(s) not checked by assert_messages:",
            "  transport event [[]0[]] book_registered_v1(*)",
        ]
    )


def test_report_section_shows_the_sql_flow_rolled_back(sql_project: pytest.Pytester) -> None:
    sql_project.makepyfile(
        HEADER
        + """
async def test_fails_inside_the_transaction(bus, uow):
    async with uow as transaction:
        await bus.handle(DDD, transaction)
        raise RuntimeError("payment service down")
"""
    )
    result = sql_project.runpytest("-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*- messagebus eventstore -*",
            "Messages recorded (2), in order:",
            "  [[]0[]] rolled back  RegisterBook(*title='DDD'*)",
            "  [[]1[]] rolled back  BookRegistered(*)",
            "Probable cause: *RuntimeError: payment service down*",
        ]
    )


def test_given_and_deterministic_ids_on_sqlite(sql_project: pytest.Pytester) -> None:
    sql_project.makepyfile(
        HEADER
        + """
@pytest.mark.messagebus_given(DDD)
@pytest.mark.messagebus_deterministic
async def test_act_after_given(bus, uow, engine, transport):
    async with uow as transaction:
        assert (await transaction.books.by_id(DDD.id)).title == "DDD"
        await transaction.rollback()
    assert_messages(uow, [])
    assert transport.events == []

    await handle(bus, uow, ALICE)
    assert_messages(uow, [ALICE, like(ReviewerRegistered, nickname="alice")])
    rows = await stored_rows(engine)
    # The arranged rows stay in the database; the act is numbered from 1.
    assert [str(row.id) for row in rows[2:]] == [str(uuidgen(1)), str(uuidgen(2))]
"""
    )
    result = sql_project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1)
