"""Registering books and reviewers."""

from __future__ import annotations

import json

import pytest
from lastuuid.dummies import uuidgen
from reading_club.domain import (
    BookRegistered,
    RegisterBook,
    RegisterReviewer,
    ReviewerRegistered,
)
from reading_club.service.repositories import DuplicateIsbn, UnknownBook

from pytest_messagebus_eventstore import assert_messages

DDD = RegisterBook(
    id=uuidgen(1), isbn="0-321-12521-5", title="Domain Driven Design", author="Eric Evans"
)
DDD_REGISTERED = BookRegistered(id=DDD.id, isbn=DDD.isbn, title=DDD.title, author=DDD.author)


async def test_registered_book_is_on_the_shelf_and_published(
    messagebus_handle, messagebus_read, uow, transport
):
    book = await messagebus_handle(DDD)

    assert await messagebus_read(lambda t: t.books.by_id(DDD.id)) == book
    assert_messages(uow, [DDD, DDD_REGISTERED])
    assert_messages(transport, [DDD_REGISTERED])
    assert json.loads(transport.events[0]["payload"]) == {
        "id": str(DDD.id),
        "isbn": "0-321-12521-5",
        "title": "Domain Driven Design",
        "author": "Eric Evans",
    }


@pytest.mark.messagebus_given(DDD)
async def test_taken_isbn_is_refused_and_nothing_is_kept(
    messagebus_handle, messagebus_read, uow, transport
):
    copy = RegisterBook(id=uuidgen(2), isbn=DDD.isbn, title="DDD, again", author="E. Evans")
    with pytest.raises(DuplicateIsbn):
        await messagebus_handle(copy)

    assert (await messagebus_read(lambda t: t.books.by_id(DDD.id))).title == DDD.title
    with pytest.raises(UnknownBook):
        await messagebus_read(lambda t: t.books.by_id(copy.id))
    assert_messages(uow, [])
    assert_messages(transport, [])


@pytest.mark.messagebus_strict
async def test_reviewer_registration_stays_private(messagebus_handle, uow, transport):
    alice = RegisterReviewer(id=uuidgen(10), nickname="alice", email="alice@example.org")
    await messagebus_handle(alice)

    assert_messages(
        uow, [alice, ReviewerRegistered(id=alice.id, nickname="alice", email="alice@example.org")]
    )
    assert_messages(transport, [])
