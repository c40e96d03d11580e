"""What the plugin costs a test suite, against the conftest the messagebus tutorial writes.

    python benchmarks/overhead.py [--tests 500] [--rounds 20] [--instructions]

Generates a suite of N tests, each handling a command through the bus in a
unit of work and checking the messages the store recorded and the events the
transport sent, twice: once on the plugin's fixtures, once on a hand-written
conftest (in-memory store with a class-level list, transport, unit of work,
bus scanned once per session, manual clearing) run with the plugin disabled.
Runs both with pytest in subprocesses, alternating, and prints both medians
and the median of the per-pair ratios (wall and CPU time). Target: plugin /
hand-written <= 1.05.

The plugin suite gives its repositories with the pytest_messagebus_repositories
hook, as the README does; with --repositories-fixture, it overrides the
messagebus_repositories fixture instead, which costs one more fixture per test.
With --same-isolation, the hand-written suite also gets a fresh bus per test
and a repositories fixture: the ratio then shows what the plugin's own code
costs, apart from the price of those two fixtures.

With --instructions, each suite also runs once under valgrind's callgrind,
and the ratio of the instructions they execute is printed: slow (minutes),
but the same on a quiet machine and on a busy one, where the median of the
timed rounds can drift by more than the margin it is compared with.
"""

from __future__ import annotations

import argparse
import tempfile
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

from _common import (
    NO_PLUGIN,
    Timing,
    count_instructions,
    machine,
    paired_rounds,
    print_medians,
    ratios,
    run_pytest,
    versions,
)

if TYPE_CHECKING:
    from collections.abc import Callable

TARGET = 1.05
TESTS_PER_FILE = 50

APP = {
    "__init__": "",
    "domain": """
        from uuid import UUID

        from messagebus import Command, Event, Metadata, Model


        class RegisterBook(Command):
            id: UUID
            title: str
            author: str
            metadata: Metadata = Metadata(name="register_book", schema_version=1, published=True)


        class BookRegistered(Event):
            id: UUID
            title: str
            author: str
            metadata: Metadata = Metadata(name="book_registered", schema_version=1)


        class Book(Model):
            id: UUID
            title: str
            author: str
        """,
    "repositories": """
        import abc

        from messagebus import AsyncAbstractRepository

        from bookshop.domain import Book


        class AbstractBookRepository(AsyncAbstractRepository[Book]):
            @abc.abstractmethod
            async def add(self, book: Book) -> None: ...

            @abc.abstractmethod
            async def by_id(self, id) -> Book: ...
        """,
    "handlers": """
        from messagebus import async_listen

        from bookshop.domain import Book, BookRegistered, RegisterBook


        @async_listen
        async def register_book(cmd: RegisterBook, uow) -> Book:
            book = Book(id=cmd.id, title=cmd.title, author=cmd.author)
            book.messages.append(BookRegistered(id=cmd.id, title=cmd.title, author=cmd.author))
            await uow.books.add(book)
            return book
        """,
}

FAKE_REPOSITORY_BODY = """
    books: ClassVar[dict[UUID, Book]] = {}

    async def add(self, book: Book) -> None:
        self.books[book.id] = book
        self.seen.append(book)

    async def by_id(self, id: UUID) -> Book:
        return self.books[id]
"""

PLUGIN_CONFTEST = (
    """
from typing import ClassVar
from uuid import UUID

import pytest
from bookshop.domain import Book
from bookshop.repositories import AbstractBookRepository
from pytest_messagebus_eventstore import InMemoryRepository


class FakeBookRepository(InMemoryRepository, AbstractBookRepository):"""
    + FAKE_REPOSITORY_BODY
    + """

def pytest_messagebus_repositories(config):
    return {"books": FakeBookRepository()}
"""
)

# With --repositories-fixture, the repositories come from an override of the
# messagebus_repositories fixture instead of the hook: one more fixture per test.
REPOSITORIES_FIXTURE = {
    """def pytest_messagebus_repositories(config):
    return {"books": FakeBookRepository()}
""": """@pytest.fixture
def messagebus_repositories():
    return {"books": FakeBookRepository()}
"""
}

PLUGIN_INI = """
[pytest]
pythonpath = .
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
messagebus_scan = bookshop.handlers
"""

# The tutorial's conftest, made to run on messagebus 0.12 (eventstore) and 0.13+
# (messagestore) alike.
HANDWRITTEN_CONFTEST = (
    """
from typing import Any, ClassVar
from uuid import UUID

import messagebus
import pytest
from bookshop.domain import Book
from bookshop.repositories import AbstractBookRepository
from messagebus import (
    AsyncAbstractEventstreamTransport,
    AsyncAbstractUnitOfWork,
    AsyncEventstreamPublisher,
    AsyncMessageBus,
    Message,
)

if hasattr(messagebus, "AsyncAbstractMessageStoreRepository"):
    StoreBase, STORE = messagebus.AsyncAbstractMessageStoreRepository, "messagestore"
else:
    StoreBase, STORE = messagebus.AsyncEventstoreAbstractRepository, "eventstore"


class InMemoryEventstoreRepository(StoreBase):
    messages: ClassVar[list[Message[Any]]] = []

    async def _add(self, message: Message[Any]) -> None:
        self.messages.append(message)


class EventstreamTransport(AsyncAbstractEventstreamTransport):
    def __init__(self) -> None:
        self.events: list[Any] = []

    async def send_message_serialized(self, message: Any) -> None:
        self.events.append(message)


class InMemoryBookRepository(AbstractBookRepository):"""
    + FAKE_REPOSITORY_BODY
    + """

class InMemoryUnitOfWork(AsyncAbstractUnitOfWork):
    def __init__(self, transport: EventstreamTransport) -> None:
        self.books = InMemoryBookRepository()
        store = InMemoryEventstoreRepository(publisher=AsyncEventstreamPublisher(transport))
        setattr(self, STORE, store)

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...


@pytest.fixture
def transport() -> EventstreamTransport:
    return EventstreamTransport()


@pytest.fixture
def uow(transport):
    uow = InMemoryUnitOfWork(transport)
    yield uow
    uow.books.books.clear()
    getattr(uow, STORE).messages.clear()


@pytest.fixture
def eventstore(uow):
    return getattr(uow, STORE)


@pytest.fixture(scope="session")
def bus() -> AsyncMessageBus:
    bus = AsyncMessageBus()
    bus.scan("bookshop.handlers")
    return bus
"""
)

# With --same-isolation, the hand-written conftest also gives each test a bus of
# its own and takes the repositories from a fixture, as the plugin does.
SAME_ISOLATION = {
    """
@pytest.fixture(scope="session")
def bus() -> AsyncMessageBus:
    bus = AsyncMessageBus()
    bus.scan("bookshop.handlers")
    return bus
""": """
@pytest.fixture(scope="session")
def scanned_bus() -> AsyncMessageBus:
    bus = AsyncMessageBus()
    bus.scan("bookshop.handlers")
    return bus


@pytest.fixture
def bus(scanned_bus) -> AsyncMessageBus:
    bus = AsyncMessageBus()
    bus.commands_registry.update(scanned_bus.commands_registry)
    return bus


@pytest.fixture
def repositories():
    return {"books": InMemoryBookRepository()}
""",
    "def uow(transport):\n": "def uow(transport, repositories):\n",
}

HANDWRITTEN_INI = """
[pytest]
pythonpath = .
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
"""

TEST_HEADER = """
from uuid import UUID

from bookshop.domain import BookRegistered, RegisterBook
"""

# The same body in both suites: only the fixtures behind the names differ.
TEST_FUNCTION = """

async def test_register_book_{n}(bus, uow, eventstore, transport):
    cmd = RegisterBook(id=UUID(int={n}), title="Book {n}", author="Author {n}")
    async with uow as transaction:
        book = await bus.handle(cmd, transaction)
        assert (await transaction.books.by_id(cmd.id)) is book
        await transaction.commit()
    assert eventstore.messages == [
        cmd,
        BookRegistered(id=cmd.id, title=cmd.title, author=cmd.author),
    ]
    assert [event["type"] for event in transport.events] == ["register_book_v1"]
"""


def _verdict(ratio: float) -> str:
    return "OK" if ratio <= TARGET else "MISSED"


def write_suite(
    root: Path,
    conftest: str,
    ini: str,
    tests: int,
    test_function: str = TEST_FUNCTION,
    header: str = TEST_HEADER,
) -> Path:
    root.mkdir()
    app = root / "bookshop"
    app.mkdir()
    for name, source in APP.items():
        (app / f"{name}.py").write_text(textwrap.dedent(source))
    (root / "conftest.py").write_text(conftest)
    (root / "pytest.ini").write_text(ini)
    for first in range(0, tests, TESTS_PER_FILE):
        numbers = range(first, min(first + TESTS_PER_FILE, tests))
        body = "".join(test_function.format(n=n + 1) for n in numbers)
        (root / f"test_books_{first // TESTS_PER_FILE:03}.py").write_text(header + body)
    return root


def _replaced(source: str, replacements: dict[str, str]) -> str:
    for before, after in replacements.items():
        assert before in source
        source = source.replace(before, after)
    return source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=500, help="tests per suite (500)")
    parser.add_argument("--rounds", type=int, default=20, help="runs of each suite (20)")
    parser.add_argument(
        "--same-isolation",
        action="store_true",
        help="give the hand-written suite a bus per test and a repositories fixture too",
    )
    parser.add_argument(
        "--repositories-fixture",
        action="store_true",
        help="give the plugin suite its repositories by a fixture override, not the hook",
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also count the instructions of one run of each suite (needs valgrind)",
    )
    options = parser.parse_args()
    handwritten_conftest = _replaced(
        HANDWRITTEN_CONFTEST, SAME_ISOLATION if options.same_isolation else {}
    )
    plugin_conftest = _replaced(
        PLUGIN_CONFTEST, REPOSITORIES_FIXTURE if options.repositories_fixture else {}
    )

    with tempfile.TemporaryDirectory(prefix="overhead-") as tmp:
        plugin = write_suite(Path(tmp, "plugin"), plugin_conftest, PLUGIN_INI, options.tests)
        handwritten = write_suite(
            Path(tmp, "handwritten"), handwritten_conftest, HANDWRITTEN_INI, options.tests
        )
        runs: dict[str, Callable[[], Timing]] = {
            "plugin": lambda: run_pytest(plugin, expect_passed=options.tests),
            "hand-written": lambda: run_pytest(
                handwritten, *NO_PLUGIN, expect_passed=options.tests
            ),
        }
        print(f"machine: {machine()}")
        print(f"versions: {versions()}")
        variants = [
            *(["hand-written: bus per test"] if options.same_isolation else []),
            *(["plugin: repositories fixture"] if options.repositories_fixture else []),
        ]
        described = f" ({'; '.join(variants)})" if variants else ""
        print(f"{options.tests} tests per suite, {options.rounds} rounds{described}")
        # Warm-up: write the bytecode caches and fill the OS page cache for both.
        for run in runs.values():
            run()
        counts: dict[str, int] = {}
        if options.instructions:
            counts["plugin"] = count_instructions(plugin)
            counts["hand-written"] = count_instructions(handwritten, *NO_PLUGIN)
        plugin_runs, handwritten_runs = paired_rounds(
            runs["plugin"], runs["hand-written"], options.rounds
        )

    print_medians(plugin_runs, handwritten_runs)
    for kind, ratio in ratios(plugin_runs, handwritten_runs).items():
        print(
            f"median ratio plugin / hand-written ({kind}): {ratio:.3f} "
            f"(target <= {TARGET}: {_verdict(ratio)})"
        )
    if counts:
        ratio = counts["plugin"] / counts["hand-written"]
        print(
            f"instructions: plugin {counts['plugin'] / 1e6:,.0f} M, hand-written "
            f"{counts['hand-written'] / 1e6:,.0f} M, ratio {ratio:.3f} "
            f"(target <= {TARGET}: {_verdict(ratio)})"
        )


if __name__ == "__main__":
    main()
