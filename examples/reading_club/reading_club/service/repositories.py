"""What the handlers need from storage; a database or the test fakes provide it."""

import abc
from uuid import UUID

from messagebus import AsyncAbstractRepository

from reading_club.domain import Book, Review, Reviewer


class ReadingClubError(Exception):
    """A command the club refuses."""


class UnknownBook(ReadingClubError):
    def __init__(self, id: UUID) -> None:
        super().__init__(f"no book {id}")


class UnknownReviewer(ReadingClubError):
    def __init__(self, id: UUID) -> None:
        super().__init__(f"no reviewer {id}")


class DuplicateIsbn(ReadingClubError):
    def __init__(self, isbn: str) -> None:
        super().__init__(f"a book with ISBN {isbn} is already on the shelf")


class AlreadyReviewed(ReadingClubError):
    def __init__(self, nickname: str, title: str) -> None:
        super().__init__(f"{nickname} has already reviewed {title!r}")


class AbstractBookRepository(AsyncAbstractRepository[Book]):
    @abc.abstractmethod
    async def add(self, book: Book) -> None:
        """Store a new book; raise DuplicateIsbn if its ISBN is taken."""

    @abc.abstractmethod
    async def by_id(self, id: UUID) -> Book:
        """The book, marked as seen; raise UnknownBook if there is none."""


class AbstractReviewerRepository(AsyncAbstractRepository[Reviewer]):
    @abc.abstractmethod
    async def add(self, reviewer: Reviewer) -> None:
        """Store a new reviewer."""

    @abc.abstractmethod
    async def by_id(self, id: UUID) -> Reviewer:
        """The reviewer; raise UnknownReviewer if there is none."""


class AbstractReviewRepository(AsyncAbstractRepository[Review]):
    @abc.abstractmethod
    async def add(self, review: Review) -> None:
        """Store a new review."""

    @abc.abstractmethod
    async def of_book(self, book_id: UUID) -> list[Review]:
        """The reviews of a book, oldest first."""
