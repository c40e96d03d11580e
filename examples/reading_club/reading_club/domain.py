"""Books, reviewers and reviews, and the messages that change them."""

from uuid import UUID

from messagebus import Command, Event, Metadata, Model
from pydantic import Field


class Book(Model):
    id: UUID
    isbn: str
    title: str
    author: str
    ratings: list[int] = Field(default_factory=list)

    @property
    def average_rating(self) -> float | None:
        return sum(self.ratings) / len(self.ratings) if self.ratings else None


class Reviewer(Model):
    id: UUID
    nickname: str
    email: str


class Review(Model):
    id: UUID
    book_id: UUID
    reviewer_id: UUID
    rating: int
    comment: str


class RegisterBook(Command):
    id: UUID
    isbn: str
    title: str
    author: str
    metadata: Metadata = Metadata(name="register_book", schema_version=1)


class BookRegistered(Event):
    id: UUID
    isbn: str
    title: str
    author: str
    metadata: Metadata = Metadata(name="book_registered", schema_version=1, published=True)


class RegisterReviewer(Command):
    id: UUID
    nickname: str
    email: str
    metadata: Metadata = Metadata(name="register_reviewer", schema_version=1)


class ReviewerRegistered(Event):
    """Internal to the club: reviewers' e-mail addresses are not published."""

    id: UUID
    nickname: str
    email: str
    metadata: Metadata = Metadata(name="reviewer_registered", schema_version=1)


class ReviewBook(Command):
    id: UUID
    book_id: UUID
    reviewer_id: UUID
    rating: int = Field(ge=1, le=5)
    comment: str
    metadata: Metadata = Metadata(name="review_book", schema_version=1)


class BookReviewed(Event):
    id: UUID
    book_id: UUID
    reviewer: str
    rating: int
    comment: str
    metadata: Metadata = Metadata(name="book_reviewed", schema_version=1, published=True)
