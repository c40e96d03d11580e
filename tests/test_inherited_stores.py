"""A subclass of a fake shares its parent's containers, unless it declares its own."""

from __future__ import annotations

import pytest

REPOSITORIES = """
import asyncio
from typing import ClassVar

import pytest
from messagebus import AsyncAbstractRepository, SyncAbstractRepository
from library.domain import Book
from pytest_messagebus_eventstore import (
    InMemoryRepository,
    InMemoryUnitOfWork,
    SyncInMemoryUnitOfWork,
    TransactionConflict,
)


def book(key, title="T"):
    from uuid import UUID

    return Book(id=UUID(int=ord(key)), isbn=key, title=title, author="A")


class Shelf(InMemoryRepository, AsyncAbstractRepository[Book]):
    books: ClassVar[dict[str, Book]] = {}
    log: ClassVar[list[str]] = []

    async def add(self, book):
        self.books[book.isbn] = book
        self.log.append(f"added {book.isbn}")


class FailingShelf(Shelf):
    async def add(self, book):
        await super().add(book)
        raise RuntimeError("the disk is full")


class OwnShelf(Shelf):
    books: ClassVar[dict[str, Book]] = {}


def uow(**repositories):
    return InMemoryUnitOfWork(**repositories)
"""


def run(project: pytest.Pytester, tests: str) -> pytest.RunResult:
    project.makepyfile(test_inherited=REPOSITORIES + tests)
    return project.runpytest("-p", "no:randomly", "-v")


def test_a_subclass_writes_its_parents_containers_in_transactions(
    project: pytest.Pytester,
) -> None:
    result = run(
        project,
        """
async def test_a_failing_write_through_the_subclass_is_rolled_back():
    with pytest.raises(RuntimeError, match="disk is full"):
        async with uow(shelf=FailingShelf()) as transaction:
            await transaction.shelf.add(book("a"))
    assert Shelf.books == {} and Shelf.log == []


async def test_a_commit_through_the_subclass_is_the_parents():
    class Child(Shelf):
        pass

    async with uow(shelf=Child()) as transaction:
        await transaction.shelf.add(book("a"))
        await transaction.commit()
    assert list(Shelf.books) == ["a"] and Shelf.log == ["added a"]
    assert Child.books is Shelf.books is FailingShelf.books


async def test_uncommitted_writes_through_the_subclass_are_isolated():
    written, read = asyncio.Event(), asyncio.Event()

    async def write():
        async with uow(shelf=FailingShelf()) as transaction:
            transaction.shelf.books["a"] = book("a")
            written.set()
            await read.wait()
            await transaction.rollback()

    async def look():
        await written.wait()
        async with uow(shelf=Shelf()) as transaction:
            assert "a" not in transaction.shelf.books
            await transaction.rollback()
        read.set()

    await asyncio.gather(write(), look())
    assert Shelf.books == {}


async def test_parent_and_subclass_changing_one_row_conflict():
    Shelf.books["a"] = book("a")
    renamed, committed = asyncio.Event(), asyncio.Event()

    async def through_the_parent():
        async with uow(shelf=Shelf()) as transaction:
            transaction.shelf.books["a"].title = "parent"
            await renamed.wait()
            await transaction.commit()
        committed.set()

    async def through_the_subclass():
        async with uow(shelf=FailingShelf()) as transaction:
            transaction.shelf.books["a"].title = "subclass"
            renamed.set()
            await committed.wait()
            await transaction.commit()

    with pytest.raises(TransactionConflict, match=r"Shelf.books\\['a'\\]"):
        await asyncio.gather(through_the_parent(), through_the_subclass())
    assert FailingShelf.books["a"].title == "parent"


def test_both_are_empty_again():
    assert Shelf.books == FailingShelf.books == {}
    assert Shelf.log == FailingShelf.log == []
    assert "books" not in FailingShelf.__dict__
""",
    )
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(["*::test_both_are_empty_again PASSED*"])


def test_a_redeclared_container_is_the_subclass_own(project: pytest.Pytester) -> None:
    result = run(
        project,
        """
class SeededShelf(Shelf):
    books: ClassVar[dict[str, Book]] = {"s": book("s", "Seed")}


async def test_writes_stay_in_their_class():
    async with uow(own=OwnShelf(), seeded=SeededShelf(), shelf=Shelf()) as transaction:
        await transaction.own.add(book("o"))
        await transaction.shelf.add(book("p"))
        transaction.seeded.books["s"].title = "changed"
        await transaction.commit()
    assert list(OwnShelf.books) == ["o"]
    assert list(Shelf.books) == ["p"]
    assert list(SeededShelf.books) == ["s"]
    # Not re-declared: the log is the parent's, for all three.
    assert Shelf.log == ["added o", "added p"]
    assert OwnShelf.log is Shelf.log


async def test_a_rollback_of_one_leaves_the_other():
    OwnShelf.books["o"] = book("o")
    async with uow(own=OwnShelf(), shelf=Shelf()) as transaction:
        del transaction.own.books["o"]
        await transaction.shelf.add(book("p"))
        await transaction.rollback()
    assert list(OwnShelf.books) == ["o"] and Shelf.books == {}


def test_each_is_back_to_its_own_baseline():
    assert OwnShelf.books == Shelf.books == {}
    assert SeededShelf.books["s"].title == "Seed" and list(SeededShelf.books) == ["s"]
""",
    )
    result.assert_outcomes(passed=3)


def test_a_container_reassigned_on_the_subclass_is_its_own(project: pytest.Pytester) -> None:
    result = run(
        project,
        """
class Reshelved(Shelf):
    pass


class DeclaredLater(Shelf):
    pass


# In the module body: the class declares new contents, for good.
DeclaredLater.books = {"d": book("d", "Declared")}


async def test_reassigned_in_a_test_on_the_subclass_only():
    Reshelved.books = {"r": book("r")}
    assert Shelf.books == {}
    async with uow(reshelved=Reshelved(), shelf=Shelf()) as transaction:
        await transaction.reshelved.add(book("x"))
        assert list(transaction.reshelved.books) == ["r", "x"]
        assert list(transaction.shelf.books) == []
        await transaction.commit()
    assert list(Reshelved.books) == ["r", "x"] and Shelf.books == {}


def test_the_subclass_shares_the_parents_again():
    assert "books" not in Reshelved.__dict__
    assert Reshelved.books is Shelf.books
    Shelf.books = {"p": book("p")}
    assert list(Reshelved.books) == ["p"]


async def test_reassigned_in_the_module_body_stays():
    assert list(DeclaredLater.books) == ["d"] and Shelf.books == {}
    async with uow(later=DeclaredLater()) as transaction:
        transaction.later.books["d"].title = "changed"
        await transaction.rollback()
    DeclaredLater.books["e"] = book("e")


def test_with_its_declared_contents():
    assert list(DeclaredLater.books) == ["d"]
    assert DeclaredLater.books["d"].title == "Declared"
    assert Shelf.books == {}
""",
    )
    result.assert_outcomes(passed=4)


def test_inherited_stores_hold_under_any_sequence_of_transactions(
    project: pytest.Pytester,
) -> None:
    result = run(
        project,
        """
from hypothesis import given, settings
from hypothesis import strategies as st


class SyncShelf(InMemoryRepository, SyncAbstractRepository[Book]):
    books: ClassVar[dict[str, str]] = {}


class SyncChild(SyncShelf):
    pass


class SyncOwn(SyncShelf):
    books: ClassVar[dict[str, str]] = {}


STEPS = st.lists(
    st.tuples(
        st.sampled_from(["parent", "child", "own"]),
        st.sampled_from("abc"),
        st.sampled_from(["set", "delete"]),
        st.sampled_from(["commit", "rollback", "raise"]),
    ),
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(steps=STEPS)
def test_shared_and_own_tables(steps):
    shared, own = {}, {}
    unit_of_work = SyncInMemoryUnitOfWork(
        parent=SyncShelf(), child=SyncChild(), own=SyncOwn()
    )
    for number, (through, key, change, end) in enumerate(steps):
        table = own if through == "own" else shared
        expected = dict(table)
        if change == "set":
            expected[key] = str(number)
        else:
            expected.pop(key, None)
        try:
            with unit_of_work as transaction:
                books = getattr(transaction, through).books
                if change == "set":
                    books[key] = str(number)
                else:
                    books.pop(key, None)
                if end == "raise":
                    raise ValueError(end)
                getattr(transaction, end)()
        except ValueError:
            pass
        if end == "commit":
            table.clear()
            table.update(expected)
        assert dict(SyncShelf.books) == dict(SyncChild.books) == shared
        assert dict(SyncOwn.books) == own


def test_empty_after_the_property():
    assert SyncShelf.books == SyncOwn.books == {}
""",
    )
    result.assert_outcomes(passed=2)


CONSTANTS = """
from types import MappingProxyType


class Constants:
    kinds = ("paper", "ebook")
    formats = frozenset({"a4"})
    limits = MappingProxyType({"max": 3})


class ConstantShelf(InMemoryRepository, Constants, AsyncAbstractRepository[Book]):
    pass


def test_constants_are_fine():
    assert ConstantShelf.kinds == ("paper", "ebook")
"""


def test_a_container_inherited_from_a_plain_base_is_refused(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_plain=REPOSITORIES
        + """
class Rows:
    rows: ClassVar[dict[str, Book]] = {}


class RowShelf(InMemoryRepository, Rows, AsyncAbstractRepository[Book]):
    pass
""",
        test_constants=REPOSITORIES + CONSTANTS,
        test_plain_dependency="""
from pytest_messagebus_eventstore import InMemoryDependency


class Recipients:
    known = ["ann"]


class FakeMailer(InMemoryDependency, Recipients):
    pass
""",
    )
    result = project.runpytest("-p", "no:randomly", "--continue-on-collection-errors")
    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines_random(
        [
            "E   TypeError: RowShelf inherits the class-level dict 'rows' from Rows, which is "
            "not a subclass of InMemoryRepository: the plugin would neither reset it after "
            "each test nor isolate it in transactions. Declare rows in RowShelf, or make "
            "Rows a subclass of InMemoryRepository; a constant can be a tuple, a frozenset "
            "or a MappingProxyType.",
            "E   TypeError: FakeMailer inherits the class-level list 'known' from Recipients, "
            "which is not a subclass of InMemoryDependency: *",
        ]
    )
