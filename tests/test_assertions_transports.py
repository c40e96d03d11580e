"""assert_messages on a transport: events of any serializer, their ids, unreadable payloads."""

from __future__ import annotations

# Imported before any in-process pytest run, so that the runs share these
# modules (see test_assertions.py).
import pytest

import pytest_messagebus_eventstore.assertions  # noqa: F401

SERIALIZERS = """
import zlib

from messagebus import AbstractMessageSerializer


def payload_of(message):
    return message.model_dump_json(exclude={"message_id", "created_at", "metadata"})


class DottedSerializer(AbstractMessageSerializer):
    def serialize_message(self, message):
        return {
            "id": str(message.message_id),
            "created_at": message.created_at.isoformat(),
            "type": f"{message.metadata.name}.v{message.metadata.schema_version}",
            "payload": payload_of(message),
        }


# Sends the title as name, leaves the isbn out, and writes no type.
class RenamingSerializer(AbstractMessageSerializer):
    def serialize_message(self, message):
        payload = message.model_dump(mode="json", exclude={"message_id", "created_at", "metadata"})
        if "title" in payload:
            payload["name"] = payload.pop("title")
            del payload["isbn"]
        return {"id": str(message.message_id), "kind": message.metadata.name, "data": payload}


class ZlibSerializer(AbstractMessageSerializer):
    def serialize_message(self, message):
        return {
            "id": str(message.message_id),
            "type": f"{message.metadata.name}_v{message.metadata.schema_version}",
            "payload": zlib.compress(payload_of(message).encode()),
        }
"""

HEADER = """
from unittest.mock import ANY
from uuid import UUID

import pytest
from library.domain import BookLent, LendBook, RegisterBook
from messagebus import AsyncEventstreamPublisher
from messagebus.service.eventstream import MessageSerializer
from pytest_messagebus_eventstore import assert_messages, like
from serializers import DottedSerializer, RenamingSerializer, ZlibSerializer

ID = UUID(int=1)
CMD = RegisterBook(id=ID, isbn="1", title="DDD", author="Evans")
LENT = BookLent(id=ID, to="alice")


async def stream(bus, uow):
    async with uow as transaction:
        await bus.handle(CMD, transaction)
        await bus.handle(LendBook(id=ID, to="alice"), transaction)
        await transaction.commit()
"""


def run(project: pytest.Pytester, body: str) -> pytest.RunResult:
    project.makepyfile(serializers=SERIALIZERS, test_transport=HEADER + body)
    return project.runpytest("-p", "no:randomly")


def test_a_custom_serializer_with_its_own_types(project: pytest.Pytester) -> None:
    result = run(
        project,
        """
@pytest.fixture
def messagebus_serializer():
    return DottedSerializer()


async def test_passes(bus, uow, transport):
    await stream(bus, uow)
    assert [event["type"] for event in transport.events] == ["register_book.v1", "book_lent.v1"]
    assert_messages(transport, [CMD, LENT])
    assert_messages(transport, [RegisterBook, BookLent])
    assert_messages(transport, [like(RegisterBook, title="DDD"), like(BookLent, to="alice")])
    assert_messages(transport, [LENT, like(RegisterBook, author="Evans")], ordered=False)


def test_sync_passes(sync_bus, sync_uow, sync_transport):
    with sync_uow as transaction:
        sync_bus.handle(CMD, transaction)
        transaction.commit()
    assert_messages(sync_transport, [CMD])
    assert_messages(sync_transport, [like(RegisterBook, title="DDD")])


async def test_instance(bus, uow, transport):
    await stream(bus, uow)
    assert_messages(transport, [CMD, BookLent(id=ID, to="bob")])


async def test_like(bus, uow, transport):
    await stream(bus, uow)
    assert_messages(transport, [RegisterBook, like(BookLent, to="bob")])


async def test_class(bus, uow, transport):
    await stream(bus, uow)
    assert_messages(transport, [RegisterBook, RegisterBook])


async def test_unordered(bus, uow, transport):
    await stream(bus, uow)
    assert_messages(transport, [BookLent(id=ID, to="bob"), CMD], ordered=False)
""",
    )
    result.assert_outcomes(passed=2, failed=4)
    result.stdout.fnmatch_lines(
        [
            "*_ test_instance _*",
            "E       AssertionError: recorded events differ from the expected ones at index 1",
            "E       At index 1 (book_lent.v1), 1 field differs:",
            "E         to: expected 'bob', recorded 'alice'",
            "E       Recorded events:",
            "E         [[]0[]] register_book.v1(id='00000000-0000-0000-0000-000000000001', "
            "isbn='1', title='DDD', author='Evans')",
            "E         [[]1[]] book_lent.v1(id='00000000-0000-0000-0000-000000000001', "
            "to='alice')  <- differs",
            "*_ test_like _*",
            "E       At index 1 (book_lent.v1), 1 field differs:",
            "E         to: expected 'bob', recorded 'alice'",
            "*_ test_class _*",
            "E       At index 1 (book_lent.v1), the class differs:",
            "E         class: expected RegisterBook (or a subclass), recorded BookLent",
            "*_ test_unordered _*",
            "E       AssertionError: recorded events differ from the expected ones (in any "
            "order): 1 expected but not recorded, 1 recorded but not expected",
            "E       Expected [[]0[]] and recorded [[]1[]] (book_lent.v1), 1 field differs:",
            "E         to: expected 'bob', recorded 'alice'",
        ]
    )


def test_like_matches_message_id_and_created_at(project: pytest.Pytester) -> None:
    result = run(
        project,
        """
async def test_passes(bus, uow, transport):
    await stream(bus, uow)
    assert_messages(
        transport,
        [like(RegisterBook, message_id=ANY, created_at=ANY), like(BookLent, message_id=ANY)],
    )


async def test_sent_without_a_publisher(transport):
    await transport.send_message_serialized(MessageSerializer().serialize_message(CMD))
    assert_messages(
        transport,
        [like(RegisterBook, message_id=CMD.message_id, created_at=CMD.created_at, title="DDD")],
    )


async def test_wrong_id(bus, uow, transport):
    await stream(bus, uow)
    assert_messages(transport, [like(RegisterBook, message_id=UUID(int=99)), BookLent])
""",
    )
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "E       At index 0 (register_book_v1), 1 field differs:",
            "E         message_id: expected UUID('00000000-0000-0000-0000-000000000063'), "
            "recorded UUID('*')",
        ]
    )


def test_what_the_serializer_leaves_out_or_renames(project: pytest.Pytester) -> None:
    result = run(
        project,
        """
@pytest.fixture
def messagebus_serializer():
    return RenamingSerializer()


async def test_passes(bus, uow, transport):
    await stream(bus, uow)
    assert transport.events[0]["data"] == {"id": str(ID), "name": "DDD", "author": "Evans"}
    # The isbn is not sent: it cannot differ.
    assert_messages(transport, [CMD.model_copy(update={"isbn": "2"}), LENT])
    assert_messages(transport, [like(RegisterBook, isbn="1"), BookLent])


async def test_renamed_field(bus, uow, transport):
    await stream(bus, uow)
    assert_messages(transport, [CMD.model_copy(update={"title": "Other"}), LENT])
""",
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "E       At index 0 (RegisterBook), 1 field differs:",
            "E         data.name: expected 'Other', recorded 'DDD'",
        ]
    )


def test_events_sent_by_hand_among_published_ones(project: pytest.Pytester) -> None:
    result = run(
        project,
        """
OTHER = RegisterBook(id=UUID(int=2), isbn="2", title="Other", author="Evans")


async def test_unordered(bus, uow, transport):
    await stream(bus, uow)
    await transport.send_message_serialized(MessageSerializer().serialize_message(OTHER))
    assert_messages(transport, [OTHER, LENT, CMD], ordered=False)
    assert_messages(transport, [CMD, OTHER], ordered=False)
""",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            ">       assert_messages(transport, [[]CMD, OTHER[]], ordered=False)",
            "E       AssertionError: recorded events differ from the expected ones (in any "
            "order): 0 expected but not recorded, 1 recorded but not expected",
            "E       The following events were recorded but not expected:",
            "E         [[]1[]] book_lent_v1(id='00000000-0000-0000-0000-000000000001', to='alice')",
        ]
    )


def test_a_payload_that_is_not_json(project: pytest.Pytester) -> None:
    result = run(
        project,
        """
@pytest.fixture
def messagebus_serializer():
    return ZlibSerializer()


async def test_published_passes(bus, uow, transport):
    await stream(bus, uow)
    assert_messages(transport, [RegisterBook, BookLent])
    assert_messages(transport, [CMD, LENT])
    assert_messages(transport, [like(RegisterBook, title="DDD"), like(BookLent, to="alice")])
    # Not in the event: read on the message it was serialized from.
    assert_messages(transport, [like(RegisterBook, created_at=ANY), like(BookLent, message_id=ANY)])


async def test_published_instance(bus, uow, transport):
    await stream(bus, uow)
    assert_messages(transport, [CMD, BookLent(id=ID, to="bob")])


async def test_sent_by_hand_as_class_passes(transport):
    await transport.send_message_serialized(ZlibSerializer().serialize_message(CMD))
    assert_messages(transport, [RegisterBook])


async def test_sent_by_hand_as_like(transport):
    await transport.send_message_serialized(ZlibSerializer().serialize_message(CMD))
    assert_messages(transport, [like(RegisterBook, title="DDD")])


async def test_sent_by_hand_as_instance(transport):
    await transport.send_message_serialized({"type": "register_book_v1", "payload": "<book/>"})
    assert_messages(transport, [CMD])
""",
    )
    result.assert_outcomes(passed=2, failed=3)
    result.stdout.fnmatch_lines(
        [
            "*_ test_published_instance _*",
            "E       At index 1 (book_lent_v1), 1 field differs:",
            "E         payload: expected b*, recorded b*",
            "*_ test_sent_by_hand_as_like _*",
            '>       assert_messages(transport, [[]like(RegisterBook, title="DDD")[]])',
            "E       AssertionError: assert_messages(): event [[]0[]] (type 'register_book_v1') "
            "cannot be compared with the expected like(RegisterBook, title='DDD'): its payload "
            "is bytes that are not UTF-8",
            "E       It was not sent by an eventstream publisher, so it is read as messagebus's "
            "MessageSerializer writes events (a JSON payload). Expect its class instead, or "
            "send it through an AsyncEventstreamPublisher or SyncEventstreamPublisher: it is "
            "then compared through the publisher's serializer.",
            "test_transport.py:*: AssertionError",
            "*_ test_sent_by_hand_as_instance _*",
            "E       AssertionError: assert_messages(): event [[]0[]] (type 'register_book_v1') "
            "cannot be compared with the expected register_book_v1(*): its payload is text "
            "that is not JSON",
        ]
    )
    result.stdout.no_fnmatch_line("*UnicodeDecodeError*")
    result.stdout.no_fnmatch_line("*JSONDecodeError*")
    result.stdout.no_fnmatch_line("*assertions.py*")


def test_misplaced_arguments_say_what_to_pass(project: pytest.Pytester) -> None:
    result = run(
        project,
        """
def test_bus(bus):
    assert_messages(bus, [])


def test_sync_bus(sync_bus):
    assert_messages(sync_bus, [])


async def test_events(bus, uow, transport):
    await stream(bus, uow)
    assert_messages(transport.events, [RegisterBook, BookLent])
""",
    )
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(
        [
            "E       TypeError: assert_messages() cannot read messages from the bus (an "
            "AsyncMessageBus, like the bus fixture): a bus keeps none. Pass what it handled "
            "them with, uow, eventstore or transport, e.g. assert_messages(eventstore, [[]...[]])",
            "E       TypeError: assert_messages() cannot read messages from the bus (a "
            "SyncMessageBus, like the sync_bus fixture): a bus keeps none. Pass what it "
            "handled them with, sync_uow, sync_eventstore or sync_transport, e.g. "
            "assert_messages(sync_eventstore, [[]...[]])",
            "E       TypeError: assert_messages(): actual[[]0[]] is a dict, not a message; for "
            "the events a transport sent, pass the transport itself: "
            "assert_messages(transport, [[]...[]])",
        ]
    )
    result.stdout.no_fnmatch_line("E   *_AsyncSessionBus*")


def test_what_a_transport_keeps_of_its_events_goes_with_them(project: pytest.Pytester) -> None:
    result = run(
        project,
        """
async def test_emptied(transport):
    publisher = AsyncEventstreamPublisher(transport)
    for _ in range(3):
        for n in range(100):
            await publisher.send_message(BookLent(id=ID, to=str(n)))
        transport.events.clear()
    await publisher.send_message(LENT)
    assert len(transport._sources) <= 65
    assert_messages(transport, [LENT])
""",
    )
    result.assert_outcomes(passed=1)


def test_publishers_are_given_back_after_the_session(project: pytest.Pytester) -> None:
    project.makeconftest(
        (project.path / "conftest.py").read_text()
        + """
from messagebus import AsyncEventstreamPublisher, SyncEventstreamPublisher


def wrapped():
    return [
        hasattr(publisher.__dict__["send_message"], "__wrapped__")
        for publisher in (AsyncEventstreamPublisher, SyncEventstreamPublisher)
    ]


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    print("wrapped after the session:", wrapped())
"""
    )
    project.makepyfile(
        """
        from conftest import wrapped

        def test_wrapped(transport):
            assert wrapped() == [True, True]
        """
    )
    result = project.runpytest_subprocess("-s", "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["wrapped after the session: [[]False, False[]]"])
