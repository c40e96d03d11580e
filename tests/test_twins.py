"""One conftest for an async test tree and the sync tree unasync generates from it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import pytest_asyncio
import unasync

from conftest import DOMAIN, ini_source

REPOSITORIES = """
import abc
from typing import ClassVar
from uuid import UUID

from messagebus import AsyncAbstractRepository

from library.domain import Book


class AsyncAbstractBookRepository(AsyncAbstractRepository[Book]):
    @abc.abstractmethod
    async def add(self, book: Book) -> None: ...

    @abc.abstractmethod
    async def by_id(self, id: UUID) -> Book: ...
"""

NOTIFIER = """
from typing import ClassVar

from messagebus import AsyncDependency


class Notifier(AsyncDependency):
    sent: ClassVar[list[str]] = []

    def __init__(self) -> None:
        self.pending: list[str] = []

    def send(self, text: str) -> None:
        self.pending.append(text)

    async def on_after_commit(self) -> None:
        self.sent.extend(self.pending)

    async def on_after_rollback(self) -> None:
        self.pending.clear()
"""

HANDLERS = """
from messagebus import async_listen

from library.domain import Book, BookRegistered, RegisterBook


@async_listen
async def register_book(cmd: RegisterBook, uow, notifier) -> Book:
    book = Book(id=cmd.id, isbn=cmd.isbn, title=cmd.title, author=cmd.author)
    book.messages.append(
        BookRegistered(id=cmd.id, isbn=cmd.isbn, title=cmd.title, author=cmd.author)
    )
    await uow.books.add(book)
    notifier.send(cmd.title)
    return book
"""

CONFTEST = """
from typing import ClassVar
from uuid import UUID

import pytest

from library._async.notifier import Notifier
from library._async.repositories import AsyncAbstractBookRepository
from library.domain import Book
from pytest_messagebus_eventstore import InMemoryRepository


class FakeBookRepository(InMemoryRepository, AsyncAbstractBookRepository):
    books: ClassVar[dict[UUID, Book]] = {}

    async def add(self, book: Book) -> None:
        self.books[book.id] = book
        self.seen.append(book)

    async def by_id(self, id: UUID) -> Book:
        return self.books[id]


def pytest_messagebus_repositories(config):
    return {"books": FakeBookRepository()}


@pytest.fixture
def messagebus_dependencies():
    return {"notifier": Notifier}
"""

TESTS = """
from uuid import UUID

import pytest
import pytest_asyncio
from messagebus import (
    AsyncAbstractEventstreamTransport,
    AsyncAbstractUnitOfWork,
    AsyncMessageBus,
)

from library._async.notifier import Notifier
from library.domain import BookRegistered, RegisterBook
from pytest_messagebus_eventstore import assert_messages

REGISTER = RegisterBook(id=UUID(int=1), isbn="1", title="Dune", author="Herbert")


async def test_the_fixtures_are_of_the_tree_s_flavour(bus, uow, transport, eventstore):
    assert isinstance(bus, AsyncMessageBus)
    assert isinstance(uow, AsyncAbstractUnitOfWork)
    assert isinstance(transport, AsyncAbstractEventstreamTransport)
    assert uow.messagestore is eventstore


async def test_handle(bus, uow, transport):
    async with uow as transaction:
        book = await bus.handle(REGISTER, transaction)
        await transaction.commit()
    assert book.title == "Dune"
    assert_messages(uow, [REGISTER, BookRegistered])
    assert_messages(transport, [REGISTER])
    assert Notifier.sent[-1] == "Dune"


@pytest.mark.messagebus_given(REGISTER)
async def test_given_marker(uow, messagebus_read, transport):
    book = await messagebus_read(lambda t: t.books.by_id(UUID(int=1)))
    assert book.title == "Dune"
    assert transport.events == []


async def test_given_fixture(messagebus_given, uow):
    await messagebus_given(REGISTER)
    assert list(uow.books.books) == [UUID(int=1)]


async def test_handle_fixture(messagebus_handle, messagebus_repositories):
    book = await messagebus_handle(REGISTER)
    assert list(messagebus_repositories["books"].books) == [book.id]


# pytest-asyncio before 0.24 runs a test outside its async fixtures' context.
@pytest.mark.skipif(
    tuple(map(int, pytest_asyncio.__version__.split(".")[:2])) < (0, 24), reason="old"
)
async def test_tuow(tuow, bus):
    await bus.handle(REGISTER, tuow)
    assert list(tuow.books.books) == [UUID(int=1)]


async def test_nothing_left(uow):
    assert uow.books.books == {}
"""

CONTEXT = tuple(map(int, pytest_asyncio.__version__.split(".")[:2])) >= (0, 24)
# The inner test_tuow, of each tree, where it is skipped.
SKIPPED = 0 if CONTEXT else 2
TEST_NAMES = [
    "test_the_fixtures_are_of_the_tree_s_flavour",
    "test_handle",
    "test_given_marker",
    "test_given_fixture",
    "test_handle_fixture",
    "test_tuow",
    "test_nothing_left",
]


def _write(root: Path, files: dict[str, str]) -> None:
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))


@pytest.fixture
def generated(pytester: pytest.Pytester) -> pytest.Pytester:
    """An async application and test tree, and the sync trees unasync generates from them."""
    root = pytester.path
    async_files = {
        "library/_async/__init__.py": "",
        "library/_async/repositories.py": REPOSITORIES,
        "library/_async/notifier.py": NOTIFIER,
        "library/_async/handlers.py": HANDLERS,
        "tests/_async/__init__.py": "",
        "tests/_async/conftest.py": CONFTEST,
        "tests/_async/test_books.py": TESTS,
    }
    _write(root, {"library/__init__.py": "", "library/domain.py": DOMAIN, "tests/__init__.py": ""})
    _write(root, async_files)
    # As messagebus generates its own sync code and tests.
    rule = unasync.Rule(
        "/_async/",
        "/_sync/",
        additional_replacements={"_async": "_sync", "async_listen": "sync_listen"},
    )
    unasync.unasync_files([str(root / name) for name in async_files], rules=[rule])
    pytester.makeini(
        ini_source(
            """
            pythonpath = .
            asyncio_mode = auto
            messagebus_scan = library._async.handlers
            messagebus_sync_scan = library._sync.handlers
            messagebus_sync_dirs = tests/_sync
            """
        )
    )
    return pytester


def test_the_generated_tree_is_sync(generated: pytest.Pytester) -> None:
    sync_tests = (generated.path / "tests/_sync/test_books.py").read_text()
    assert "SyncMessageBus" in sync_tests
    assert "async def" not in sync_tests
    assert "await" not in sync_tests
    conftest = (generated.path / "tests/_sync/conftest.py").read_text()
    assert "def pytest_messagebus_repositories(config):" in conftest
    assert "from library._sync.notifier import Notifier" in conftest


def test_one_conftest_serves_both_trees(generated: pytest.Pytester) -> None:
    result = generated.runpytest("-p", "no:randomly", "-v", "-W", "error")
    result.assert_outcomes(passed=2 * len(TEST_NAMES) - SKIPPED, skipped=SKIPPED)
    result.stdout.fnmatch_lines_random(
        [
            f"tests/_{flavour}/test_books.py::{name} PASSED*"
            for flavour in ("async", "sync")
            for name in TEST_NAMES
            if CONTEXT or name != "test_tuow"
        ]
    )


def test_both_trees_in_random_order_and_in_two_processes(generated: pytest.Pytester) -> None:
    result = generated.runpytest("-p", "randomly", "-n", "2")
    result.assert_outcomes(passed=2 * len(TEST_NAMES) - SKIPPED, skipped=SKIPPED)


def test_only_the_listed_directory_gets_the_twins(generated: pytest.Pytester) -> None:
    result = generated.runpytest("-p", "no:randomly", "-o", "messagebus_sync_dirs=")
    # The sync tests get the async fixtures, which refuse the sync repositories.
    result.assert_outcomes(
        passed=len(TEST_NAMES) - SKIPPED // 2,
        errors=len(TEST_NAMES) - SKIPPED // 2,
        skipped=SKIPPED,
    )
    result.stdout.fnmatch_lines(
        [
            "uow: InMemoryUnitOfWork(books=...) got a sync repository (FakeBookRepository is a "
            "subclass of SyncAbstractRepository); use SyncInMemoryUnitOfWork for sync "
            "repositories.",
        ]
    )


def test_a_conftest_s_own_fixture_wins_over_its_twin(generated: pytest.Pytester) -> None:
    conftest = generated.path / "tests/_sync/conftest.py"
    conftest.write_text(
        conftest.read_text()
        + textwrap.dedent(
            """

            @pytest.fixture
            def transport():
                return "the conftest's own"
            """
        )
    )
    generated.makepyfile(
        **{
            "tests/_sync/test_own": """
            def test_own(transport, uow):
                assert transport == "the conftest's own"
                assert type(uow).__name__ == "SyncInMemoryUnitOfWork"
            """
        }
    )
    result = generated.runpytest("-p", "no:randomly", "tests/_sync/test_own.py")
    result.assert_outcomes(passed=1)


def test_sync_hooks_apply_in_a_twin_directory(generated: pytest.Pytester) -> None:
    generated.makeconftest(
        """
        from messagebus import SyncAbstractEventstreamTransport


        class Transport(SyncAbstractEventstreamTransport):
            def __init__(self):
                self.events = []

            def send_message_serialized(self, message):
                self.events.append(message)


        def pytest_messagebus_make_sync_transport(config):
            return Transport()
        """
    )
    generated.makepyfile(
        **{
            "tests/_sync/test_hook": """
            def test_hook(transport):
                assert type(transport).__name__ == "Transport"
            """
        }
    )
    result = generated.runpytest("-p", "no:randomly", "tests/_sync/test_hook.py")
    result.assert_outcomes(passed=1)


def test_an_async_piece_from_an_async_named_hook_is_refused(generated: pytest.Pytester) -> None:
    conftest = generated.path / "tests/_sync/conftest.py"
    conftest.write_text(
        conftest.read_text()
        + textwrap.dedent(
            """

            from pytest_messagebus_eventstore import InMemoryEventstreamTransport


            def pytest_messagebus_make_transport(config):
                return InMemoryEventstreamTransport()
            """
        )
    )
    result = generated.runpytest("-p", "no:randomly", "tests/_sync/test_books.py", "-k", "flavour")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "transport: pytest_messagebus_make_transport in tests/_sync/conftest.py:* returned "
            "an InMemoryEventstreamTransport, not a SyncAbstractEventstreamTransport.",
        ]
    )


@pytest.mark.parametrize(
    ("listed", "error"),
    [
        (
            "tests/_sink",
            "ERROR: messagebus_sync_dirs: no directory tests/_sink under the rootdir *; list "
            "the directories of the sync test tree, relative to the rootdir.",
        ),
        (
            "library",
            "ERROR: messagebus_sync_dirs: library has no conftest.py; the sync fixtures under "
            "the async names are defined in it. Add library/conftest.py (an empty file will "
            "do), or generate it from the async tree's.",
        ),
    ],
)
def test_a_wrong_directory_is_a_usage_error(
    generated: pytest.Pytester, listed: str, error: str
) -> None:
    result = generated.runpytest("-p", "no:randomly", "-o", f"messagebus_sync_dirs={listed}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([error])
