"""A rollback restores every kind of class-level container, however large."""

from __future__ import annotations

import pytest


def test_rollback_restores_builtin_and_other_containers(project: pytest.Pytester) -> None:
    # 300 books: more than the snapshot size from which the collector is held.
    project.makepyfile(
        """
        import gc
        import weakref
        from collections import OrderedDict, deque
        from typing import ClassVar
        from uuid import UUID

        import pytest
        from library.domain import Book
        from library.repositories import AbstractBookRepository
        from pytest_messagebus_eventstore import InMemoryRepository


        class Reader:
            pass


        READERS = [Reader(), Reader()]


        class ShelfRepository(InMemoryRepository, AbstractBookRepository):
            books: ClassVar[dict] = {}
            ordered: ClassVar[OrderedDict] = OrderedDict()
            queue: ClassVar[deque] = deque()
            readers: ClassVar[weakref.WeakSet] = weakref.WeakSet()

            async def add(self, book):
                self.books[book.id] = book

            async def by_id(self, id):
                return self.books[id]


        @pytest.fixture
        def messagebus_repositories():
            return {"shelf": ShelfRepository()}


        async def test_rollback(uow):
            books = [
                Book(id=UUID(int=n), isbn=str(n), title="T", author="A", tags=["x"] * (n % 2))
                for n in range(300)
            ]
            shelf = uow.shelf
            shelf.books.update((book.id, book) for book in books)
            shelf.ordered["a"] = 1
            shelf.queue.append(1)
            shelf.readers.add(READERS[0])

            async with uow as transaction:
                stored = transaction.shelf.books
                stored[books[0].id].tags.append("added to an empty list")
                stored[books[1].id].tags.append("y")
                stored[books[2].id].title = "changed"
                del stored[books[3].id]
                transaction.shelf.ordered["b"] = 2
                transaction.shelf.queue.append(2)
                transaction.shelf.readers.add(READERS[1])
                await transaction.rollback()

            assert gc.isenabled()
            assert len(shelf.books) == 300
            assert (books[0].tags, books[1].tags, books[2].title) == ([], ["x"], "T")
            assert shelf.books[books[3].id] is books[3]
            assert shelf.ordered == OrderedDict(a=1)
            assert list(shelf.queue) == [1]
            assert set(shelf.readers) == {READERS[0]}


        async def test_collector_left_off_stays_off(uow):
            gc.disable()
            try:
                async with uow as transaction:
                    transaction.shelf.books.update({UUID(int=n): n for n in range(300)})
                    await transaction.rollback()
                assert not gc.isenabled()
                assert uow.shelf.books == {}
            finally:
                gc.enable()
        """
    )
    project.runpytest("-p", "no:randomly").assert_outcomes(passed=2)
