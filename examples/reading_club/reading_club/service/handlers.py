"""The club's handlers, registered on the bus by scanning this module.

No ``from __future__ import annotations`` here: messagebus reads the message
type of each handler from its first parameter's annotation, a class.
"""

from messagebus import AsyncUnitOfWorkTransaction, async_listen

from reading_club.domain import (
    Book,
    BookRegistered,
    BookReviewed,
    RegisterBook,
    RegisterReviewer,
    Review,
    ReviewBook,
    Reviewer,
    ReviewerRegistered,
)
from reading_club.service.mailer import AbstractMailer
from reading_club.service.repositories import AlreadyReviewed

# Unparametrized: its type parameters differ between messagebus versions.
Transaction = AsyncUnitOfWorkTransaction


@async_listen
async def register_book(command: RegisterBook, uow: Transaction) -> Book:
    book = Book(id=command.id, isbn=command.isbn, title=command.title, author=command.author)
    book.messages.append(
        BookRegistered(id=command.id, isbn=command.isbn, title=command.title, author=command.author)
    )
    await uow.books.add(book)
    return book


@async_listen
async def register_reviewer(command: RegisterReviewer, uow: Transaction) -> Reviewer:
    reviewer = Reviewer(id=command.id, nickname=command.nickname, email=command.email)
    reviewer.messages.append(
        ReviewerRegistered(id=command.id, nickname=command.nickname, email=command.email)
    )
    await uow.reviewers.add(reviewer)
    return reviewer


@async_listen
async def review_book(command: ReviewBook, uow: Transaction) -> Review:
    book = await uow.books.by_id(command.book_id)
    reviewer = await uow.reviewers.by_id(command.reviewer_id)
    if any(r.reviewer_id == reviewer.id for r in await uow.reviews.of_book(book.id)):
        raise AlreadyReviewed(reviewer.nickname, book.title)
    review = Review(
        id=command.id,
        book_id=book.id,
        reviewer_id=reviewer.id,
        rating=command.rating,
        comment=command.comment,
    )
    review.messages.append(
        BookReviewed(
            id=review.id,
            book_id=book.id,
            reviewer=reviewer.nickname,
            rating=review.rating,
            comment=review.comment,
        )
    )
    await uow.reviews.add(review)
    return review


@async_listen
async def record_rating(event: BookReviewed, uow: Transaction) -> None:
    book = await uow.books.by_id(event.book_id)
    book.ratings.append(event.rating)


@async_listen
async def thank_reviewer(event: BookReviewed, uow: Transaction, mailer: AbstractMailer) -> None:
    review = next(r for r in await uow.reviews.of_book(event.book_id) if r.id == event.id)
    reviewer = await uow.reviewers.by_id(review.reviewer_id)
    mailer.send(reviewer.email, f"Thank you for your review, {reviewer.nickname}!")
