"""The club's test doubles. Stores, transport, unit of work and bus come from the plugin.

Every service test runs twice: on the plugin's in-memory unit of work over the
fakes below (``memory``), and on the club's SQL unit of work over a fresh
SQLite database (``sqlite``). The tests are the same; so are their assertions.
"""

from typing import ClassVar
from uuid import UUID

import pytest
from messagebus import AsyncEventstreamPublisher
from reading_club.adapters.sql import SqlUnitOfWork, create_schema
from reading_club.domain import Book, Review, Reviewer
from reading_club.service.mailer import AbstractMailer
from reading_club.service.repositories import (
    AbstractBookRepository,
    AbstractReviewerRepository,
    AbstractReviewRepository,
    DuplicateIsbn,
    UnknownBook,
    UnknownReviewer,
)
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import StaticPool

from pytest_messagebus_eventstore import InMemoryDependency, InMemoryRepository


class InMemoryBookRepository(InMemoryRepository, AbstractBookRepository):
    books: ClassVar[dict[UUID, Book]] = {}
    isbn_index: ClassVar[dict[str, UUID]] = {}

    async def add(self, book: Book) -> None:
        if book.isbn in self.isbn_index:
            raise DuplicateIsbn(book.isbn)
        self.books[book.id] = book
        self.isbn_index[book.isbn] = book.id
        self.seen.append(book)

    async def by_id(self, id: UUID) -> Book:
        try:
            return self.books[id]
        except KeyError:
            raise UnknownBook(id) from None


class InMemoryReviewerRepository(InMemoryRepository, AbstractReviewerRepository):
    reviewers: ClassVar[dict[UUID, Reviewer]] = {}

    async def add(self, reviewer: Reviewer) -> None:
        self.reviewers[reviewer.id] = reviewer
        self.seen.append(reviewer)

    async def by_id(self, id: UUID) -> Reviewer:
        try:
            return self.reviewers[id]
        except KeyError:
            raise UnknownReviewer(id) from None


class InMemoryReviewRepository(InMemoryRepository, AbstractReviewRepository):
    reviews: ClassVar[list[Review]] = []

    async def add(self, review: Review) -> None:
        self.reviews.append(review)
        self.seen.append(review)

    async def of_book(self, book_id: UUID) -> list[Review]:
        return [review for review in self.reviews if review.book_id == book_id]


class FakeMailer(InMemoryDependency, AbstractMailer):
    """Mail delivered on commit, in ``outbox``: (to, subject)."""

    outbox: ClassVar[list[tuple[str, str]]] = []

    def send(self, to: str, subject: str) -> None:
        self.send_on_commit((to, subject))


# optionalhook: the conftest still loads when the plugin is disabled
# (``-p no:messagebus_eventstore``); pytest refuses an unknown hook otherwise.
@pytest.hookimpl(optionalhook=True)
def pytest_messagebus_repositories(config: pytest.Config) -> dict[str, InMemoryRepository]:
    return {
        "books": InMemoryBookRepository(),
        "reviewers": InMemoryReviewerRepository(),
        "reviews": InMemoryReviewRepository(),
    }


@pytest.fixture
def messagebus_dependencies() -> dict[str, type[AbstractMailer]]:
    return {"mailer": FakeMailer}


@pytest.fixture
def outbox() -> list[tuple[str, str]]:
    """The mail the handlers' mailer delivered during the test: (to, subject)."""
    return FakeMailer.outbox


@pytest.fixture(params=["memory", "sqlite"])
async def uow(request, uow, transport, messagebus_serializer):
    """The plugin's in-memory unit of work, then the SQL one on a fresh database."""
    if request.param == "memory":
        yield uow
        return
    # One connection for the whole test: an in-memory SQLite database lives
    # as long as its connection, and each test gets a new one.
    engine = create_async_engine("sqlite+aiosqlite://", poolclass=StaticPool)
    await create_schema(engine)
    yield SqlUnitOfWork(engine, AsyncEventstreamPublisher(transport, messagebus_serializer))
    await engine.dispose()
