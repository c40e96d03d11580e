"""Fake bus dependencies: what a handler sends is delivered on commit, dropped on rollback."""

from __future__ import annotations

import textwrap

import pytest

from conftest import CONFTEST

HANDLERS = """
from messagebus import async_listen

from library.domain import Book, BookRegistered, LendBook, RegisterBook


@async_listen
async def register_book(cmd: RegisterBook, uow, mailer) -> Book:
    book = Book(id=cmd.id, isbn=cmd.isbn, title=cmd.title, author=cmd.author)
    book.messages.append(
        BookRegistered(id=cmd.id, isbn=cmd.isbn, title=cmd.title, author=cmd.author)
    )
    await uow.books.add(book)
    mailer.send(f"registered {cmd.title}")
    if cmd.author == "fails":
        raise ValueError("the handler failed after sending")
    return book


@async_listen
async def welcome_book(event: BookRegistered, uow, mailer) -> None:
    mailer.send(f"welcome {event.title}")


@async_listen
async def lend_book(cmd: LendBook, uow, mailer) -> None:
    mailer.send(f"lending to {cmd.to}")
    await uow.commit()
    mailer.send(f"lent to {cmd.to}")
"""

SYNC_HANDLERS = """
from messagebus import sync_listen

from library.domain import Book, RegisterBook


@sync_listen
def register_book(cmd: RegisterBook, uow, mailer) -> Book:
    book = Book(id=cmd.id, isbn=cmd.isbn, title=cmd.title, author=cmd.author)
    uow.books.add(book)
    mailer.send(f"registered {cmd.title}")
    if cmd.author == "fails":
        raise ValueError("the handler failed after sending")
    return book
"""

MAILERS = """

from pytest_messagebus_eventstore import InMemoryDependency, SyncInMemoryDependency


class FakeMailer(InMemoryDependency):
    outbox: ClassVar[list[str]] = []

    def send(self, text: str) -> None:
        self.send_on_commit(text)


class SyncFakeMailer(SyncInMemoryDependency):
    def send(self, text: str) -> None:
        self.send_on_commit(text)


@pytest.fixture
def messagebus_dependencies():
    return {"mailer": FakeMailer}


@pytest.fixture
def messagebus_sync_dependencies():
    return {"mailer": SyncFakeMailer}
"""

COMMANDS = """
from typing import ClassVar
from uuid import UUID

import pytest
from library.domain import LendBook, RegisterBook
from conftest import FakeMailer, SyncFakeMailer


def register(n, title, author="A"):
    return RegisterBook(id=UUID(int=n), isbn=str(n), title=title, author=author)
"""


@pytest.fixture
def mail(project: pytest.Pytester) -> pytest.Pytester:
    """The library project, whose handlers send mail through a ``mailer`` dependency."""
    library = project.path / "library"
    (library / "handlers.py").write_text(textwrap.dedent(HANDLERS))
    (library / "sync_handlers.py").write_text(textwrap.dedent(SYNC_HANDLERS))
    project.makeconftest(CONFTEST + MAILERS)
    return project


def run(project: pytest.Pytester, tests: str) -> pytest.RunResult:
    project.makepyfile(test_mail=COMMANDS + tests)
    return project.runpytest("-p", "no:randomly", "-v")


def test_mail_is_delivered_on_commit_and_dropped_on_rollback(mail: pytest.Pytester) -> None:
    result = run(
        mail,
        """
async def test_commit_delivers_in_order(bus, uow):
    async with uow as transaction:
        await bus.handle(register(1, "Dune"), transaction)
        assert FakeMailer.outbox == []
        await transaction.commit()
    assert FakeMailer.outbox == ["registered Dune", "welcome Dune"]


async def test_rollback_drops(bus, uow):
    async with uow as transaction:
        await bus.handle(register(1, "Dune"), transaction)
        await transaction.rollback()
    assert FakeMailer.outbox == []


async def test_a_handler_that_sends_then_raises_delivers_nothing(bus, uow):
    with pytest.raises(ValueError, match="after sending"):
        async with uow as transaction:
            await bus.handle(register(1, "Dune", author="fails"), transaction)
            await transaction.commit()
    assert FakeMailer.outbox == []


async def test_commit_then_an_exception_keeps_the_delivery(bus, uow):
    with pytest.raises(RuntimeError, match="after the commit"):
        async with uow as transaction:
            await bus.handle(register(1, "Dune"), transaction)
            await transaction.commit()
            raise RuntimeError("after the commit")
    assert FakeMailer.outbox == ["registered Dune", "welcome Dune"]


async def test_each_handle_delivers_its_own(bus, uow):
    async with uow as transaction:
        await bus.handle(register(1, "Dune"), transaction)
        await bus.handle(register(2, "Emma"), transaction)
        await transaction.commit()
    async with uow as transaction:
        await bus.handle(register(3, "Ubik"), transaction)
        await transaction.rollback()
    assert FakeMailer.outbox == [
        "registered Dune", "welcome Dune", "registered Emma", "welcome Emma"
    ]


async def test_a_delivery_stays_when_an_enclosing_transaction_rolls_back(bus, uow):
    from pytest_messagebus_eventstore import InMemoryUnitOfWork

    async with InMemoryUnitOfWork() as outer:
        async with uow as transaction:
            await bus.handle(register(1, "Dune"), transaction)
            await transaction.commit()
        await outer.rollback()
    assert FakeMailer.outbox == ["registered Dune", "welcome Dune"]


def test_the_outbox_is_empty_again_after_each_test():
    assert FakeMailer.outbox == []
""",
    )
    result.assert_outcomes(passed=7)
    result.stdout.fnmatch_lines(
        [
            "*::test_commit_delivers_in_order PASSED*",
            "*::test_the_outbox_is_empty_again_after_each_test PASSED*",
        ]
    )


def test_what_is_sent_outside_a_transaction_is_delivered_at_once(mail: pytest.Pytester) -> None:
    result = run(
        mail,
        """
from messagebus import AsyncAbstractUnitOfWork
from pytest_messagebus_eventstore import InMemoryEventstoreRepository
from pytest_messagebus_eventstore._compat import STORE_ATTRIBUTE
from conftest import FakeBookRepository


class ProjectUnitOfWork(AsyncAbstractUnitOfWork):
    def __init__(self):
        setattr(self, STORE_ATTRIBUTE, InMemoryEventstoreRepository())
        self.books = FakeBookRepository()

    async def commit(self):
        pass

    async def rollback(self):
        pass


def test_outside_any_transaction():
    mailer = FakeMailer()
    mailer.send("hello")
    assert FakeMailer.outbox == ["hello"]
    assert mailer.pending == []


async def test_after_the_handler_committed(bus, uow):
    async with uow as transaction:
        await bus.handle(LendBook(id=UUID(int=1), to="ann"), transaction)
        assert FakeMailer.outbox == ["lending to ann", "lent to ann"]


async def test_a_transient_instance_waits_again_in_its_next_transactions(bus, uow):
    mailer = FakeMailer()
    async with uow as transaction:
        await bus.handle(register(1, "Dune"), transaction, mailer=mailer)
        await transaction.commit()
    async with uow as transaction:
        await bus.handle(register(2, "Emma"), transaction, mailer=mailer)
        assert mailer.pending == ["registered Emma", "welcome Emma"]
        await transaction.rollback()
    assert mailer.pending == []
    async with uow as transaction:
        await bus.handle(register(3, "Ubik"), transaction, mailer=mailer)
        await transaction.commit()
    assert FakeMailer.outbox == [
        "registered Dune", "welcome Dune", "registered Ubik", "welcome Ubik"
    ]


async def test_a_handler_called_without_the_bus(uow):
    from library.handlers import register_book

    mailer = FakeMailer()
    async with uow as transaction:
        await register_book(register(1, "Dune"), transaction, mailer)
        assert FakeMailer.outbox == []
        await transaction.commit()
    with pytest.raises(ValueError):
        async with uow as transaction:
            await register_book(register(2, "Emma", author="fails"), transaction, mailer)
    assert FakeMailer.outbox == ["registered Dune"]


async def test_a_project_unit_of_work(bus):
    with pytest.raises(ValueError):
        async with ProjectUnitOfWork() as transaction:
            await bus.handle(register(1, "Dune", author="fails"), transaction)
    async with ProjectUnitOfWork() as transaction:
        await bus.handle(register(2, "Emma"), transaction)
        assert FakeMailer.outbox == []
        await transaction.commit()
    assert FakeMailer.outbox == ["registered Emma", "welcome Emma"]
""",
    )
    result.assert_outcomes(passed=5)


def test_each_class_has_its_own_outbox(mail: pytest.Pytester) -> None:
    result = run(
        mail,
        """
from pytest_messagebus_eventstore import InMemoryDependency


class FakeNotifier(InMemoryDependency):
    def notify(self, text):
        self.send_on_commit(text)


class LoudMailer(FakeMailer):
    def send(self, text):
        super().send(text.upper())


class CopyingMailer(FakeMailer):
    outbox = FakeMailer.outbox


def test_outboxes():
    FakeMailer().send("mail")
    FakeNotifier().notify("note")
    LoudMailer().send("loud")
    CopyingMailer().send("copy")
    assert FakeMailer.outbox == ["mail", "copy"]
    assert FakeNotifier.outbox == ["note"]
    assert LoudMailer.outbox == ["LOUD"]
    assert CopyingMailer.outbox is FakeMailer.outbox
    assert InMemoryDependency.outbox == []


def test_all_empty_again():
    assert FakeMailer.outbox == FakeNotifier.outbox == LoudMailer.outbox == []
""",
    )
    result.assert_outcomes(passed=2)


def test_overrides_that_call_super_keep_the_semantics(mail: pytest.Pytester) -> None:
    result = run(
        mail,
        """
class LoggingMailer(FakeMailer):
    log: ClassVar[list[str]] = []

    async def on_after_commit(self):
        self.log.append(f"commit {len(self.pending)}")
        await super().on_after_commit()

    async def on_after_rollback(self):
        self.log.append(f"rollback {len(self.pending)}")
        await super().on_after_rollback()


@pytest.fixture
def messagebus_dependencies():
    return {"mailer": LoggingMailer}


async def test_override(bus, uow):
    async with uow as transaction:
        await bus.handle(register(1, "Dune"), transaction)
        await transaction.commit()
    with pytest.raises(ValueError):
        async with uow as transaction:
            await bus.handle(register(2, "Emma", author="fails"), transaction)
    assert LoggingMailer.outbox == ["registered Dune", "welcome Dune"]
    assert LoggingMailer.log == ["commit 2", "rollback 1"]


def test_clean():
    assert LoggingMailer.outbox == LoggingMailer.log == []
""",
    )
    result.assert_outcomes(passed=2)


def test_other_containers_of_a_fake_are_reset_and_outside_transactions(
    mail: pytest.Pytester,
) -> None:
    result = run(
        mail,
        """
class SpyMailer(FakeMailer):
    calls: ClassVar[list[str]] = []

    def send(self, text):
        self.calls.append(text)
        super().send(text)


@pytest.fixture
def messagebus_dependencies():
    return {"mailer": SpyMailer}


async def test_a_rollback_keeps_the_calls(bus, uow):
    async with uow as transaction:
        await bus.handle(register(1, "Dune"), transaction)
        assert SpyMailer.calls == ["registered Dune", "welcome Dune"]
        assert type(SpyMailer.calls) is list
        await transaction.rollback()
    assert SpyMailer.calls == ["registered Dune", "welcome Dune"]
    assert SpyMailer.outbox == []


def test_clean():
    assert SpyMailer.calls == []
""",
    )
    result.assert_outcomes(passed=2)


def test_without_the_plugin_what_is_sent_waits(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_disabled="""
import asyncio

from pytest_messagebus_eventstore import InMemoryDependency


class FakeMailer(InMemoryDependency):
    pass


def test_sent():
    mailer = FakeMailer()
    mailer.send_on_commit("hello")
    assert mailer.pending == ["hello"] and FakeMailer.outbox == []
    asyncio.run(mailer.on_after_rollback())
    assert mailer.pending == [] and FakeMailer.outbox == []
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:messagebus_eventstore", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*::test_sent PASSED*"])


def test_deliveries_of_a_wider_scoped_fixture_are_its_baseline(mail: pytest.Pytester) -> None:
    result = run(
        mail,
        """
@pytest.fixture(scope="module", autouse=True)
def welcome():
    FakeMailer().send("welcome")


async def test_one(bus, uow):
    assert FakeMailer.outbox == ["welcome"]
    async with uow as transaction:
        await bus.handle(register(1, "Dune"), transaction)
        await transaction.commit()
    assert FakeMailer.outbox == ["welcome", "registered Dune", "welcome Dune"]
    FakeMailer.outbox.clear()


def test_two():
    assert FakeMailer.outbox == ["welcome"]
""",
    )
    result.assert_outcomes(passed=2)


def test_sync_fakes_deliver_on_commit_too(mail: pytest.Pytester) -> None:
    result = run(
        mail,
        """
def test_commit_and_rollback(sync_bus, sync_uow):
    with sync_uow as transaction:
        sync_bus.handle(register(1, "Dune"), transaction)
        assert SyncFakeMailer.outbox == []
        transaction.commit()
    with pytest.raises(ValueError):
        with sync_uow as transaction:
            sync_bus.handle(register(2, "Emma", author="fails"), transaction)
            transaction.commit()
    with sync_uow as transaction:
        sync_bus.handle(register(3, "Ubik"), transaction)
        transaction.rollback()
    assert SyncFakeMailer.outbox == ["registered Dune"]
    assert FakeMailer.outbox == []


def test_clean():
    assert SyncFakeMailer.outbox == []
""",
    )
    result.assert_outcomes(passed=2)


def test_an_instance_in_the_dependencies_is_refused(mail: pytest.Pytester) -> None:
    result = run(
        mail,
        """
@pytest.fixture
def messagebus_dependencies():
    return {"mailer": FakeMailer()}


async def test_instance(bus, uow):
    async with uow as transaction:
        await bus.handle(register(1, "Dune"), transaction)
""",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E*TypeError: messagebus_dependencies: the dependency 'mailer' is an instance of "
            "FakeMailer: the bus calls what it maps a handler parameter to, to make one "
            "instance per handle.",
            "E*Fix: map the parameter to the class, {'mailer': FakeMailer}; to give one "
            "instance to one call, pass it: bus.handle(command, transaction, mailer=instance).",
        ]
    )


def test_an_instance_called_by_a_bus_of_the_test_s_own_is_refused(
    mail: pytest.Pytester,
) -> None:
    result = run(
        mail,
        """
from messagebus import AsyncMessageBus


async def test_instance(uow):
    bus = AsyncMessageBus(mailer=FakeMailer())
    bus.scan("library.handlers")
    async with uow as transaction:
        await bus.handle(register(1, "Dune"), transaction)
""",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E*TypeError: a FakeMailer instance was called: the bus calls the classes that "
            "messagebus_dependencies maps handler parameters to, to make one instance per "
            "handle. Map the parameter to the class ({'mailer': FakeMailer}), not to an "
            "instance ({'mailer': FakeMailer()}); to give one instance to one call, pass it "
            "as bus.handle(command, transaction, mailer=instance)."
        ]
    )


def test_a_dependency_of_the_other_flavour_is_refused(mail: pytest.Pytester) -> None:
    result = run(
        mail,
        """
@pytest.fixture
def messagebus_dependencies():
    return {"mailer": SyncFakeMailer}


@pytest.fixture
def messagebus_sync_dependencies():
    return {"mailer": FakeMailer}


async def test_async(bus, uow):
    async with uow as transaction:
        await bus.handle(register(1, "Dune"), transaction)


def test_sync(sync_bus, sync_uow):
    with sync_uow as transaction:
        sync_bus.handle(register(1, "Dune"), transaction)
""",
    )
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "E*TypeError: messagebus_dependencies: the dependency 'mailer' is SyncFakeMailer, "
            "a messagebus SyncDependency.",
            "E*Fix: this bus takes AsyncDependency subclasses; give SyncFakeMailer to the "
            "other bus.",
            "E*TypeError: messagebus_sync_dependencies: the dependency 'mailer' is FakeMailer, "
            "a messagebus AsyncDependency.",
            "E*Fix: this bus takes SyncDependency subclasses; give FakeMailer to the other bus.",
        ]
    )


def test_sending_from_the_class_is_refused(mail: pytest.Pytester) -> None:
    result = run(
        mail,
        """
def test_from_the_class():
    FakeMailer.send_on_commit("hello")


def test_from_the_class_with_an_instance():
    FakeMailer.send_on_commit(FakeMailer(), "hello")
    assert FakeMailer.outbox == ["hello"]
""",
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*::test_from_the_class_with_an_instance PASSED*",
            "E*TypeError: FakeMailer.send_on_commit() was called on the class: a fake sends "
            "through an instance, whose items wait for the transaction it takes part in (only "
            "the outbox is the class's). In a handler, send through the dependency the bus "
            "passes it; in a test, through an instance: FakeMailer().send_on_commit(item).",
        ]
    )


def test_an_outbox_that_is_not_a_list_is_refused(mail: pytest.Pytester) -> None:
    result = run(
        mail,
        """
def test_reassigned():
    FakeMailer.outbox = {}


def test_declared():
    class CountingMailer(FakeMailer):
        outbox = {}
""",
    )
    result.assert_outcomes(failed=2)
    # "[[]" is fnmatch for "[".
    message = (
        "{}.outbox must be a list (what the fake delivered, in order), got dict: declare it "
        "as outbox: ClassVar[[]list[[]...]] = [[]], or leave it out."
    )
    result.stdout.fnmatch_lines(
        [
            "E*TypeError: " + message.format("FakeMailer"),
            "E*TypeError: " + message.format("test_declared.<locals>.CountingMailer"),
        ]
    )


def test_a_dependency_given_as_a_repository_is_refused(mail: pytest.Pytester) -> None:
    result = run(
        mail,
        """
from conftest import FakeBookRepository


@pytest.fixture
def messagebus_repositories():
    return {"books": FakeBookRepository(), "mailer": FakeMailer()}


def test_as_a_repository(uow):
    pass
""",
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*InMemoryUnitOfWork(mailer=...) expects a repository*got FakeMailer*"]
    )
