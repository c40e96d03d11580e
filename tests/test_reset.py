"""After every test, every class-level store gets back the contents its class declared."""

from __future__ import annotations

import pytest

FILLING_TESTS = """
from typing import ClassVar
from uuid import UUID

import pytest
from messagebus import AsyncAbstractRepository
from library.domain import Book, RegisterBook
from pytest_messagebus_eventstore import (
    InMemoryEventstoreRepository,
    InMemoryRepository,
    SyncInMemoryEventstoreRepository,
)
from conftest import FakeBookRepository

SEED = Book(id=UUID(int=0), isbn="0", title="Seed", author="S")


class SeededRepository(InMemoryRepository, AsyncAbstractRepository[Book]):
    books: ClassVar[dict[UUID, Book]] = {SEED.id: SEED}
    log: ClassVar[list[str]] = ["declared"]


def fill():
    book = Book(id=UUID(int=1), isbn="1", title="T", author="A")
    FakeBookRepository.books[book.id] = book
    SeededRepository.books[UUID(int=0)].title = "changed"
    SeededRepository.books[book.id] = book
    SeededRepository.log.append("filled")
    cmd = RegisterBook(id=book.id, isbn="1", title="T", author="A")
    InMemoryEventstoreRepository.messages.append(cmd)
    SyncInMemoryEventstoreRepository.messages.append(cmd)


def check_clean():
    assert FakeBookRepository.books == {}
    assert InMemoryEventstoreRepository.messages == []
    assert SyncInMemoryEventstoreRepository.messages == []
    assert list(SeededRepository.books) == [UUID(int=0)]
    assert SeededRepository.books[UUID(int=0)].title == "Seed"
    assert SeededRepository.log == ["declared"]


def test_01_passes_without_fixtures():
    fill()


def test_02_clean():
    check_clean()


def test_03_fails():
    fill()
    assert False, "deliberate failure"


def test_04_clean():
    check_clean()


@pytest.fixture
def broken():
    fill()
    raise RuntimeError("deliberate setup error")


def test_05_errors(broken):
    pass


def test_06_clean():
    check_clean()


def test_07_skipped():
    fill()
    pytest.skip("deliberately")


def test_08_clean():
    check_clean()


async def test_09_with_fixtures(uow):
    fill()
    async with uow as transaction:
        await transaction.commit()


def test_10_clean():
    check_clean()


@pytest.mark.xfail(reason="deliberate", strict=True)
def test_11_xfails():
    fill()
    assert False


def test_12_clean():
    check_clean()
"""


def test_stores_are_reset_whatever_the_outcome(project: pytest.Pytester) -> None:
    project.makepyfile(test_filling=FILLING_TESTS)
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=8, failed=1, errors=1, skipped=1, xfailed=1)
    result.stdout.fnmatch_lines(["*deliberate failure*"])


def test_stores_are_reset_with_xdist(project: pytest.Pytester) -> None:
    project.makepyfile(test_filling=FILLING_TESTS)
    result = project.runpytest_subprocess("-n", "2", "-p", "no:randomly", "--dist", "loadfile")
    result.assert_outcomes(passed=8, failed=1, errors=1, skipped=1, xfailed=1)
