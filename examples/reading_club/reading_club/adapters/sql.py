"""SQL storage for the club: SQLAlchemy 2 in async mode, on any async driver.

The unit of work opens one connection and one database transaction per
``async with uow``; the repositories read and write through it, and the
message store keeps every handled message in the ``messages`` table.
"""

from typing import Any
from uuid import UUID

import sqlalchemy as sa
from messagebus import AsyncAbstractUnitOfWork, AsyncEventstreamPublisher, Message
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from reading_club.domain import Book, Review, Reviewer
from reading_club.service.repositories import (
    AbstractBookRepository,
    AbstractReviewerRepository,
    AbstractReviewRepository,
    DuplicateIsbn,
    UnknownBook,
    UnknownReviewer,
)

try:
    from messagebus import AsyncAbstractMessageStoreRepository
except ImportError:  # messagebus 0.12 names it differently
    from messagebus import (  # type: ignore[attr-defined,no-redef]
        AsyncEventstoreAbstractRepository as AsyncAbstractMessageStoreRepository,
    )

metadata = sa.MetaData()

books = sa.Table(
    "books",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("isbn", sa.String, nullable=False, unique=True),
    sa.Column("title", sa.String, nullable=False),
    sa.Column("author", sa.String, nullable=False),
    sa.Column("ratings", sa.JSON, nullable=False),
)

reviewers = sa.Table(
    "reviewers",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("nickname", sa.String, nullable=False),
    sa.Column("email", sa.String, nullable=False),
)

reviews = sa.Table(
    "reviews",
    metadata,
    sa.Column("position", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.Uuid, nullable=False, unique=True),
    sa.Column("book_id", sa.Uuid, sa.ForeignKey("books.id"), nullable=False),
    sa.Column("reviewer_id", sa.Uuid, sa.ForeignKey("reviewers.id"), nullable=False),
    sa.Column("rating", sa.Integer, nullable=False),
    sa.Column("comment", sa.String, nullable=False),
)

messages = sa.Table(
    "messages",
    metadata,
    sa.Column("position", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.Uuid, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("type", sa.String, nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
)


async def create_schema(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)


class _SqlRepository:
    def __init__(self, uow: "SqlUnitOfWork") -> None:
        super().__init__()
        self._uow = uow

    @property
    def connection(self) -> AsyncConnection:
        return self._uow.connection


class SqlBookRepository(_SqlRepository, AbstractBookRepository):
    def __init__(self, uow: "SqlUnitOfWork") -> None:
        super().__init__(uow)
        # Books handed out in this transaction: handlers change them in place
        # (``book.ratings.append``), so they are written back on commit.
        self.loaded: dict[UUID, Book] = {}

    async def add(self, book: Book) -> None:
        taken = await self.connection.scalar(
            sa.select(sa.func.count()).where(books.c.isbn == book.isbn)
        )
        if taken:
            raise DuplicateIsbn(book.isbn)
        await self.connection.execute(
            books.insert().values(
                book.model_dump(include={"id", "isbn", "title", "author", "ratings"})
            )
        )
        self.loaded[book.id] = book
        self.seen.append(book)

    async def by_id(self, id: UUID) -> Book:
        if id in self.loaded:
            return self.loaded[id]
        row = (await self.connection.execute(books.select().where(books.c.id == id))).first()
        if row is None:
            raise UnknownBook(id)
        book = self.loaded[id] = Book(**row._mapping)
        return book

    async def write_back(self) -> None:
        for book in self.loaded.values():
            await self.connection.execute(
                books.update().where(books.c.id == book.id).values(ratings=book.ratings)
            )
        self.loaded.clear()


class SqlReviewerRepository(_SqlRepository, AbstractReviewerRepository):
    async def add(self, reviewer: Reviewer) -> None:
        await self.connection.execute(
            reviewers.insert().values(reviewer.model_dump(include={"id", "nickname", "email"}))
        )
        self.seen.append(reviewer)

    async def by_id(self, id: UUID) -> Reviewer:
        row = (
            await self.connection.execute(reviewers.select().where(reviewers.c.id == id))
        ).first()
        if row is None:
            raise UnknownReviewer(id)
        return Reviewer(**row._mapping)


class SqlReviewRepository(_SqlRepository, AbstractReviewRepository):
    async def add(self, review: Review) -> None:
        await self.connection.execute(
            reviews.insert().values(
                review.model_dump(include={"id", "book_id", "reviewer_id", "rating", "comment"})
            )
        )
        self.seen.append(review)

    async def of_book(self, book_id: UUID) -> list[Review]:
        rows = await self.connection.execute(
            sa.select(
                reviews.c.id,
                reviews.c.book_id,
                reviews.c.reviewer_id,
                reviews.c.rating,
                reviews.c.comment,
            )
            .where(reviews.c.book_id == book_id)
            .order_by(reviews.c.position)
        )
        return [Review(**row._mapping) for row in rows]


class SqlMessageStore(AsyncAbstractMessageStoreRepository):
    """Every handled message, as a row of the ``messages`` table (write only)."""

    def __init__(self, uow: "SqlUnitOfWork", publisher: AsyncEventstreamPublisher | None) -> None:
        super().__init__(publisher=publisher)
        self._uow = uow

    async def _add(self, message: Message[Any]) -> None:
        await self._uow.connection.execute(
            messages.insert().values(
                id=message.message_id,
                created_at=message.created_at,
                type=f"{message.metadata.name}_v{message.metadata.schema_version}",
                payload=message.model_dump(
                    mode="json", exclude={"message_id", "created_at", "metadata"}
                ),
            )
        )


class SqlUnitOfWork(AsyncAbstractUnitOfWork):  # type: ignore[type-arg]
    """One database transaction per ``async with uow``."""

    def __init__(self, engine: AsyncEngine, publisher: AsyncEventstreamPublisher | None = None):
        self.engine = engine
        self._connection: AsyncConnection | None = None
        self.books = SqlBookRepository(self)
        self.reviewers = SqlReviewerRepository(self)
        self.reviews = SqlReviewRepository(self)
        store = SqlMessageStore(self, publisher)
        # messagebus 0.12 calls the store ``eventstore``, later versions ``messagestore``.
        self.messagestore = self.eventstore = store

    @property
    def connection(self) -> AsyncConnection:
        if self._connection is None:
            raise RuntimeError("use the repositories inside `async with uow as transaction`")
        return self._connection

    async def __aenter__(self) -> Any:
        self._connection = await self.engine.connect()
        await self._connection.begin()
        return await super().__aenter__()

    async def __aexit__(self, *exc_info: Any) -> None:
        try:
            await super().__aexit__(*exc_info)
        finally:
            if self._connection is not None:
                await self._connection.close()
                self._connection = None

    async def commit(self) -> None:
        await self.books.write_back()
        await self.connection.commit()

    async def rollback(self) -> None:
        self.books.loaded.clear()
        # messagebus publishes the store's stream buffer with the next commit:
        # what this transaction handled must not go with it. After a commit
        # (then an exception), the committed events are not published either.
        self.messagestore.stream_buffer.clear()
        await self.connection.rollback()
