"""A small messagebus application and the ini options written into each pytester project."""

from __future__ import annotations

import re
import textwrap
from importlib.metadata import version

# pytester's in-process runs put sys.modules back as they found it, so whatever
# an inner run imports is imported again by the next one. hypothesis's pytest
# plugin imports hypothesis at the end of every run (about a second each time):
# importing it here, once, keeps it across the inner runs.
import hypothesis  # noqa: F401
import pytest

# Loaded here rather than from its entry point (disabled in the pytest addopts)
# so that coverage, which starts just before the conftests load, measures the
# plugin's module-level code too.
pytest_plugins = ["pytester", "pytest_messagebus_eventstore.plugin"]

DOMAIN = """
from uuid import UUID

from messagebus import Command, Event, Metadata, Model


class RegisterBook(Command):
    id: UUID
    isbn: str
    title: str
    author: str
    metadata: Metadata = Metadata(name="register_book", schema_version=1, published=True)


class BookRegistered(Event):
    id: UUID
    isbn: str
    title: str
    author: str
    metadata: Metadata = Metadata(name="book_registered", schema_version=1)


class LendBook(Command):
    id: UUID
    to: str
    metadata: Metadata = Metadata(name="lend_book", schema_version=1)


class BookLent(Event):
    id: UUID
    to: str
    metadata: Metadata = Metadata(name="book_lent", schema_version=1, published=True)


class Book(Model):
    id: UUID
    isbn: str
    title: str
    author: str
    lent_to: str | None = None
    tags: list[str] = []
"""

REPOSITORIES = """
import abc

from messagebus import AsyncAbstractRepository, SyncAbstractRepository

from library.domain import Book


class AbstractBookRepository(AsyncAbstractRepository[Book]):
    @abc.abstractmethod
    async def add(self, book: Book) -> None: ...

    @abc.abstractmethod
    async def by_id(self, id) -> Book: ...


class SyncAbstractBookRepository(SyncAbstractRepository[Book]):
    @abc.abstractmethod
    def add(self, book: Book) -> None: ...

    @abc.abstractmethod
    def by_id(self, id) -> Book: ...
"""

HANDLERS = """
from messagebus import async_listen

from library.domain import Book, BookLent, BookRegistered, LendBook, RegisterBook


@async_listen
async def register_book(cmd: RegisterBook, uow) -> Book:
    book = Book(id=cmd.id, isbn=cmd.isbn, title=cmd.title, author=cmd.author)
    book.messages.append(
        BookRegistered(id=cmd.id, isbn=cmd.isbn, title=cmd.title, author=cmd.author)
    )
    await uow.books.add(book)
    return book


@async_listen
async def lend_book(cmd: LendBook, uow) -> None:
    book = await uow.books.by_id(cmd.id)
    book.lent_to = cmd.to
    book.tags.append("lent")
    book.messages.append(BookLent(id=cmd.id, to=cmd.to))
    uow.books.seen.append(book)
    if cmd.to == "nobody":
        raise ValueError("cannot lend a book to nobody")
"""

SYNC_HANDLERS = """
from messagebus import sync_listen

from library.domain import Book, BookRegistered, RegisterBook


@sync_listen
def register_book(cmd: RegisterBook, uow) -> Book:
    book = Book(id=cmd.id, isbn=cmd.isbn, title=cmd.title, author=cmd.author)
    book.messages.append(
        BookRegistered(id=cmd.id, isbn=cmd.isbn, title=cmd.title, author=cmd.author)
    )
    uow.books.add(book)
    return book
"""

CONFTEST = """
from typing import ClassVar
from uuid import UUID

import pytest

from library.domain import Book
from library.repositories import AbstractBookRepository, SyncAbstractBookRepository
from pytest_messagebus_eventstore import InMemoryRepository


class FakeBookRepository(InMemoryRepository, AbstractBookRepository):
    books: ClassVar[dict[UUID, Book]] = {}

    async def add(self, book: Book) -> None:
        self.books[book.id] = book
        self.seen.append(book)

    async def by_id(self, id: UUID) -> Book:
        return self.books[id]


class SyncFakeBookRepository(InMemoryRepository, SyncAbstractBookRepository):
    books: ClassVar[dict[UUID, Book]] = {}

    def add(self, book: Book) -> None:
        self.books[book.id] = book
        self.seen.append(book)

    def by_id(self, id: UUID) -> Book:
        return self.books[id]


@pytest.fixture
def messagebus_repositories():
    return {"books": FakeBookRepository()}


@pytest.fixture
def messagebus_sync_repositories():
    return {"books": SyncFakeBookRepository()}
"""


# The installed pytest-asyncio's major and minor version.
PYTEST_ASYNCIO = tuple(int(part) for part in re.findall(r"\d+", version("pytest-asyncio"))[:2])

# pytest-asyncio 0.24 and later warn, in each run whose configuration leaves
# this option unset, that its default is to change. 0.23 has no such option:
# there only the plugin declares it, and an inner run without the plugin would
# call it unknown. Every inner project's configuration starts with these
# options: see ini_source and pyproject_source.
ASYNCIO_OPTIONS: dict[str, str] = (
    {"asyncio_default_fixture_loop_scope": "function"} if PYTEST_ASYNCIO >= (0, 24) else {}
)


def ini_source(options: str = "") -> str:
    """An ini file's ``[pytest]`` section: ASYNCIO_OPTIONS, then ``options``."""
    lines = "".join(f"{name} = {value}\n" for name, value in ASYNCIO_OPTIONS.items())
    return "[pytest]\n" + lines + textwrap.dedent(options)


def pyproject_source(options: str = "", table: str = "tool.pytest.ini_options") -> str:
    """A pyproject.toml's ``[table]``: ASYNCIO_OPTIONS, then ``options``."""
    lines = "".join(f'{name} = "{value}"\n' for name, value in ASYNCIO_OPTIONS.items())
    return f"[{table}]\n" + lines + textwrap.dedent(options)


@pytest.fixture
def pytester(pytester: pytest.Pytester) -> pytest.Pytester:
    """pytester, its project given the ini file of ``ini_source()``.

    So that a test writing no ini file of its own still sets ASYNCIO_OPTIONS;
    one that writes its own replaces this one, and starts it with ini_source too.
    """
    pytester.makeini(ini_source())
    return pytester


def write_library(pytester: pytest.Pytester, *, handlers: str = HANDLERS) -> None:
    package = pytester.mkpydir("library")
    for name, source in {
        "domain": DOMAIN,
        "repositories": REPOSITORIES,
        "handlers": handlers,
        "sync_handlers": SYNC_HANDLERS,
    }.items():
        (package / f"{name}.py").write_text(textwrap.dedent(source))


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester project with the library application, its fakes and its ini file."""
    write_library(pytester)
    pytester.makeconftest(CONFTEST)
    pytester.makeini(
        ini_source(
            """
            pythonpath = .
            asyncio_mode = auto
            messagebus_scan = library.handlers
            messagebus_sync_scan = library.sync_handlers
            """
        )
    )
    return pytester
