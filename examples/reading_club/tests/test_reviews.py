"""Reviewing books: given a shelf and two reviewers, when a review comes in..."""

from __future__ import annotations

import json

import pytest
from lastuuid.dummies import uuidgen
from reading_club.domain import BookReviewed, RegisterBook, RegisterReviewer, ReviewBook
from reading_club.service.repositories import AlreadyReviewed, UnknownBook

from pytest_messagebus_eventstore import assert_messages, like

DDD = RegisterBook(
    id=uuidgen(1), isbn="0-321-12521-5", title="Domain Driven Design", author="Eric Evans"
)
ALICE = RegisterReviewer(id=uuidgen(10), nickname="alice", email="alice@example.org")
BOB = RegisterReviewer(id=uuidgen(11), nickname="bob", email="bob@example.org")
ALICE_REVIEW = ReviewBook(
    id=uuidgen(20), book_id=DDD.id, reviewer_id=ALICE.id, rating=5, comment="A classic."
)
ALICE_REVIEWED = BookReviewed(
    id=ALICE_REVIEW.id, book_id=DDD.id, reviewer="alice", rating=5, comment="A classic."
)


def the_book(transaction):
    return transaction.books.by_id(DDD.id)


pytestmark = pytest.mark.messagebus_given(DDD, ALICE, BOB)


@pytest.mark.messagebus_strict
async def test_review_is_published_rated_and_thanked(
    messagebus_handle, messagebus_read, uow, transport, outbox
):
    await messagebus_handle(ALICE_REVIEW)

    assert_messages(uow, [ALICE_REVIEW, ALICE_REVIEWED])
    assert_messages(transport, [like(BookReviewed, reviewer="alice", rating=5)])
    assert (await messagebus_read(the_book)).ratings == [5]
    assert outbox == [("alice@example.org", "Thank you for your review, alice!")]


@pytest.mark.messagebus_given(ALICE_REVIEW)
async def test_second_review_by_the_same_reviewer_is_refused(
    messagebus_handle, messagebus_read, uow, transport
):
    again = ALICE_REVIEW.model_copy(update={"id": uuidgen(21), "rating": 1})
    with pytest.raises(AlreadyReviewed, match="alice has already reviewed 'Domain Driven Design'"):
        await messagebus_handle(again)

    assert (await messagebus_read(the_book)).ratings == [5]
    assert_messages(uow, [])
    assert_messages(transport, [])


async def test_review_of_an_unknown_book_is_refused(messagebus_handle, transport):
    stray = ALICE_REVIEW.model_copy(update={"book_id": uuidgen(99)})
    with pytest.raises(UnknownBook):
        await messagebus_handle(stray)
    assert_messages(transport, [])


async def test_transaction_failing_after_the_review_keeps_nothing(
    bus, messagebus_read, uow, transport, outbox
):
    async def review_then_fail():
        async with uow as transaction:
            await bus.handle(ALICE_REVIEW, transaction)
            assert (await the_book(transaction)).ratings == [5]
            raise RuntimeError("payment service down")

    with pytest.raises(RuntimeError, match="payment service down"):
        await review_then_fail()

    # The rollback restores the rating appended in place, the reviews, and the
    # stream, on the fakes as in the database; the mail queued by the handler
    # is never delivered.
    assert (await messagebus_read(the_book)).ratings == []
    assert await messagebus_read(lambda t: t.reviews.of_book(DDD.id)) == []
    assert_messages(uow, [])
    assert_messages(transport, [])
    assert outbox == []


@pytest.mark.parametrize(
    ("scores", "average"),
    [((), None), ((4,), 4.0), ((5, 2), 3.5)],
)
async def test_average_rating(messagebus_given, messagebus_read, scores, average):
    reviews = [
        ReviewBook(
            id=uuidgen(30 + n), book_id=DDD.id, reviewer_id=reviewer.id, rating=rating, comment=""
        )
        for n, (reviewer, rating) in enumerate(zip((ALICE, BOB), scores, strict=False))
    ]
    await messagebus_given(*reviews)

    assert (await messagebus_read(the_book)).average_rating == average


@pytest.mark.messagebus_deterministic
async def test_published_review_is_stable_from_run_to_run(messagebus_handle, transport):
    await messagebus_handle(ALICE_REVIEW)

    # The review command is message 1 after the given phase, its event message 2.
    assert [(event["id"], event["type"]) for event in transport.events] == [
        ("00000002-0000-0000-0000-000000000000", "book_reviewed_v1")
    ]
    assert transport.events[0]["created_at"].startswith("2000-01-01T00:00:00.001000")
    assert json.loads(transport.events[0]["payload"]) == {
        "id": str(ALICE_REVIEW.id),
        "book_id": str(DDD.id),
        "reviewer": "alice",
        "rating": 5,
        "comment": "A classic.",
    }
