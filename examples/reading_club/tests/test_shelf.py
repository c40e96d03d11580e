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
from reading_club.service.repositories import DuplicateIsbn

DDD = RegisterBook(
    id=uuidgen(1), isbn="0-321-12521-5", title="Domain Driven Design", author="Eric Evans"
)


async def test_registered_book_is_on_the_shelf_and_published(handle, uow, eventstore, transport):
    book = await handle(DDD)

    assert uow.books.books == {DDD.id: book}
    assert eventstore.messages == [
        DDD,
        BookRegistered(id=DDD.id, isbn=DDD.isbn, title=DDD.title, author=DDD.author),
    ]
    assert [event["type"] for event in transport.events] == ["book_registered_v1"]
    assert json.loads(transport.events[0]["payload"]) == {
        "id": str(DDD.id),
        "isbn": "0-321-12521-5",
        "title": "Domain Driven Design",
        "author": "Eric Evans",
    }


@pytest.mark.messagebus_given(DDD)
async def test_taken_isbn_is_refused_and_nothing_is_kept(handle, uow, eventstore, transport):
    copy = RegisterBook(id=uuidgen(2), isbn=DDD.isbn, title="DDD, again", author="E. Evans")
    with pytest.raises(DuplicateIsbn):
        await handle(copy)

    assert list(uow.books.books) == [DDD.id]
    assert eventstore.messages == []
    assert transport.events == []


async def test_reviewer_registration_stays_private(handle, eventstore, transport):
    alice = RegisterReviewer(id=uuidgen(10), nickname="alice", email="alice@example.org")
    await handle(alice)

    assert eventstore.messages == [
        alice,
        ReviewerRegistered(id=alice.id, nickname="alice", email="alice@example.org"),
    ]
    assert transport.events == []
