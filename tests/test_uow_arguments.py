"""Wrong arguments to the units of work, and transactions left open or nested."""

from __future__ import annotations

import pytest

# The inner tests import from the submodules: the package outlives pytester's
# in-process runs, and the names it has handed out keep the classes of the
# messagebus that the first run imported.


def test_wrong_arguments_say_what_to_pass(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        from pytest_messagebus_eventstore.eventstore import (
            InMemoryEventstoreRepository,
            SyncInMemoryEventstoreRepository,
        )
        from pytest_messagebus_eventstore.uow import InMemoryUnitOfWork, SyncInMemoryUnitOfWork
        from conftest import FakeBookRepository, SyncFakeBookRepository

        def test_both_store_names():
            store = InMemoryEventstoreRepository()
            InMemoryUnitOfWork(store, messagestore=store)

        def test_sync_store_in_async_uow():
            InMemoryUnitOfWork(eventstore=SyncInMemoryEventstoreRepository())

        def test_private_name():
            InMemoryUnitOfWork(_books=FakeBookRepository())

        def test_clashing_name():
            InMemoryUnitOfWork(commit=FakeBookRepository())

        def test_sync_repository_in_async_uow():
            InMemoryUnitOfWork(books=SyncFakeBookRepository())

        def test_async_repository_in_sync_uow():
            SyncInMemoryUnitOfWork(books=FakeBookRepository())

        def test_class_instead_of_instance():
            InMemoryUnitOfWork(books=FakeBookRepository)

        def test_not_a_repository():
            SyncInMemoryUnitOfWork(books={})
        """
    )
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(failed=8)
    result.stdout.fnmatch_lines_random(
        [
            "E * TypeError: InMemoryUnitOfWork() got both eventstore= and messagestore=; "
            "they are the same store under its messagebus 0.12 and 0.13+ names, pass one.",
            "E * TypeError: InMemoryUnitOfWork(eventstore=...) expects an async message store "
            "(an instance of *), got SyncInMemoryEventstoreRepository.",
            "E * TypeError: InMemoryUnitOfWork(_books=...): a repository name must not start "
            "with an underscore; those names belong to the unit of work.",
            "E * TypeError: InMemoryUnitOfWork(commit=...) clashes with "
            "InMemoryUnitOfWork.commit; give the repository another name.",
            "E * TypeError: InMemoryUnitOfWork(books=...) got a sync repository "
            "(SyncFakeBookRepository is a subclass of SyncAbstractRepository); use "
            "SyncInMemoryUnitOfWork for sync repositories.",
            "E * TypeError: SyncInMemoryUnitOfWork(books=...) got a async repository "
            "(FakeBookRepository is a subclass of AsyncAbstractRepository); use "
            "InMemoryUnitOfWork for async repositories.",
            "E * TypeError: InMemoryUnitOfWork(books=...) expects a repository (an instance "
            "of AsyncAbstractRepository), got the class FakeBookRepository. "
            "Pass an instance: books=FakeBookRepository().",
            "E * TypeError: SyncInMemoryUnitOfWork(books=...) expects a repository (an "
            "instance of SyncAbstractRepository), got dict {}.",
        ]
    )


def test_repository_under_a_name_of_the_message_store_is_refused(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        """
        from pytest_messagebus_eventstore.eventstore import InMemoryEventstoreRepository
        from pytest_messagebus_eventstore.uow import InMemoryUnitOfWork, SyncInMemoryUnitOfWork
        from conftest import FakeBookRepository, SyncFakeBookRepository

        def test_beside_the_store():
            InMemoryUnitOfWork(
                eventstore=InMemoryEventstoreRepository(), messagestore=FakeBookRepository()
            )

        def test_alone():
            SyncInMemoryUnitOfWork(eventstore=SyncFakeBookRepository())

        def test_of_the_other_flavour():
            InMemoryUnitOfWork(messagestore=SyncFakeBookRepository())
        """
    )
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(
        [
            "E * TypeError: InMemoryUnitOfWork(messagestore=...) got the repository "
            "FakeBookRepository: messagestore is reserved for the message store; give the "
            "repository another name.",
            "E * TypeError: SyncInMemoryUnitOfWork(eventstore=...) got the repository "
            "SyncFakeBookRepository: eventstore is reserved for the message store; give the "
            "repository another name.",
            "E * TypeError: InMemoryUnitOfWork(messagestore=...) got the repository "
            "SyncFakeBookRepository: messagestore is reserved *",
        ]
    )


def test_open_left_and_nested_transactions(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        from uuid import UUID

        import pytest
        from library.domain import Book
        from pytest_messagebus_eventstore.eventstore import SyncInMemoryEventstoreRepository
        from pytest_messagebus_eventstore import NestedTransactionError
        from pytest_messagebus_eventstore.uow import SyncInMemoryUnitOfWork
        from conftest import SyncFakeBookRepository

        BOOK = Book(id=UUID(int=1), isbn="1", title="T", author="A")

        async def test_block_left_without_commit_rolls_back(uow):
            with pytest.raises(Exception, match="commit"):
                async with uow as transaction:
                    await transaction.books.add(BOOK)
            assert uow.books.books == {}

        def test_sync_block_left_without_commit_rolls_back(sync_uow):
            with pytest.raises(Exception, match="commit"):
                with sync_uow as transaction:
                    transaction.books.add(BOOK)
            assert sync_uow.books.books == {}

        def test_sync_rollback_and_nested_begin():
            uow = SyncInMemoryUnitOfWork(books=SyncFakeBookRepository())
            assert isinstance(uow.messagestore, SyncInMemoryEventstoreRepository)
            with uow as transaction:
                transaction.books.add(BOOK)
                transaction.rollback()
            assert uow.books.books == {}
            with uow as transaction:
                transaction.books.add(BOOK)
                # A block inside a block of the same unit of work is refused:
                # it would commit or roll back nothing of its own.
                with pytest.raises(NestedTransactionError, match="already open in this task"):
                    uow.__enter__()
                transaction.commit()
            assert uow.books.books == {BOOK.id: BOOK}

        def test_store_aliases_are_settable(uow):
            other = type(uow.eventstore)()
            uow.eventstore = other
            assert uow.messagestore is other
            uow.messagestore = None
            assert uow.eventstore is None
        """
    )
    project.runpytest("-p", "no:randomly").assert_outcomes(passed=4)
