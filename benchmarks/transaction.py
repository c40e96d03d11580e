"""The cost of one transaction of InMemoryUnitOfWork, by size of the stores.

    python benchmarks/transaction.py [--sizes 0,1000,10000,100000] [--instructions]

A repository's class-level store holds N books (pydantic models, each with a
list field). Each size is timed three ways: a begin + rollback that never
touches the store; one that reads all of it (``len()``: every key); and the
shape of a handler, which reads three books, changes one in place, adds one
and commits. Prints the median time of each and, for the store read whole,
the cost per entry. Targets: a few microseconds per stored entry at most;
nothing for an untouched store; a handler's transaction whatever the size.

With --instructions, each kind of transaction also runs 200 times under
valgrind's callgrind, and the instructions of one are printed: the same on a
busy machine as on a quiet one, where the times are not.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, ClassVar
from uuid import UUID

from _common import machine, versions
from messagebus import AsyncAbstractRepository, Model

from pytest_messagebus_eventstore import InMemoryRepository, InMemoryUnitOfWork
from pytest_messagebus_eventstore._stores import reset_class_level_stores

PER_ENTRY_TARGET_US = 5.0


class Book(Model):
    id: UUID
    title: str
    tags: list[str] = []  # noqa: RUF012 (a pydantic field, copied per instance)


class FakeBookRepository(InMemoryRepository, AsyncAbstractRepository[Book]):
    books: ClassVar[dict[UUID, Book]] = {}


async def begin_rollback(uow: InMemoryUnitOfWork, *, touch: bool) -> None:
    async with uow as transaction:
        if touch:
            # Every key of the store.
            len(transaction.books.books)
        await transaction.rollback()


NEW = UUID(int=10**9)


async def handler_commit(uow: InMemoryUnitOfWork) -> None:
    async with uow as transaction:
        books = transaction.books.books
        for n in range(3):
            book = books.get(UUID(int=n))
        if book is not None:
            book.tags.append("read")
        books[NEW] = Book(id=NEW, title="New")
        await transaction.commit()
    # Back to the same size, outside the measured transaction's cost.
    FakeBookRepository.books.pop(NEW)
    if book is not None:
        FakeBookRepository.books[book.id].tags.pop()


async def measure(uow: InMemoryUnitOfWork, mode: str, *, budget: float = 0.5) -> float:
    """Median seconds of one transaction, over at most ``budget`` seconds."""
    times: list[float] = []
    deadline = time.perf_counter() + budget
    while len(times) < 5 or (time.perf_counter() < deadline and len(times) < 2000):
        start = time.perf_counter()
        if mode == "handler":
            await handler_commit(uow)
        else:
            await begin_rollback(uow, touch=mode == "touched")
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def fill(size: int) -> None:
    reset_class_level_stores()
    for n in range(size):
        book = Book(id=UUID(int=n), title=f"Book {n}", tags=["fiction"])
        FakeBookRepository.books[book.id] = book


async def main(sizes: list[int]) -> None:
    print(f"machine: {machine()}")
    print(f"versions: {versions()}")
    uow = InMemoryUnitOfWork(books=FakeBookRepository())
    print(
        f"{'entries':>8} {'untouched':>14} {'read whole':>14} {'per entry':>14} "
        f"{'3 rows+commit':>14}"
    )
    results: dict[int, tuple[float, float]] = {}
    for size in sizes:
        fill(size)
        untouched = await measure(uow, "untouched")
        touched = await measure(uow, "touched")
        handler = await measure(uow, "handler")
        if len(FakeBookRepository.books) != size:
            raise SystemExit("a rollback lost entries")
        results[size] = (untouched, touched)
        per_entry = (touched - results[sizes[0]][1]) / size * 1e6 if size else float("nan")
        print(
            f"{size:>8} {untouched * 1e6:>11.1f} us {touched * 1e6:>11.1f} us "
            + (f"{per_entry:>11.2f} us" if size else f"{'-':>14}")
            + f" {handler * 1e6:>11.1f} us"
        )
    reset_class_level_stores()
    largest = max(sizes)
    empty_us = results[min(sizes)][0] * 1e6
    untouched_us = results[largest][0] * 1e6
    per_entry_us = (results[largest][1] - results[min(sizes)][1]) / max(largest, 1) * 1e6
    print(
        f"untouched store of {largest} entries: {untouched_us:.1f} us vs "
        f"{empty_us:.1f} us empty (target: the same)"
    )
    verdict = "OK" if per_entry_us <= PER_ENTRY_TARGET_US else "MISSED"
    print(
        f"touched store: {per_entry_us:.2f} us per entry at {largest} entries "
        f"(target <= {PER_ENTRY_TARGET_US} us: {verdict})"
    )


COUNTED = 200


async def repeat(mode: str, size: int, count: int) -> None:
    """``count`` transactions of ``mode`` over a store of ``size`` books (for callgrind)."""
    fill(size)
    uow = InMemoryUnitOfWork(books=FakeBookRepository())
    for _ in range(count):
        if mode == "handler":
            await handler_commit(uow)
        else:
            await begin_rollback(uow, touch=mode == "touched")


def instructions(mode: str, size: int) -> float:
    """The instructions of one transaction of ``mode``, counted by callgrind."""
    if shutil.which("valgrind") is None:
        sys.exit("--instructions needs valgrind (Debian package valgrind)")
    totals = []
    for count in (0, COUNTED):
        with tempfile.TemporaryDirectory() as tmp:
            result = subprocess.run(
                [
                    *("valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/out"),
                    *(sys.executable, __file__, "--repeat", f"{mode},{size},{count}"),
                ],
                env={**os.environ, "PYTHONHASHSEED": "0"},
                capture_output=True,
                text=True,
                check=True,
            )
        found = re.search(r"Collected : (\d+)", result.stderr)
        if found is None:
            sys.exit(result.stderr[-2000:])
        totals.append(int(found.group(1)))
    return (totals[1] - totals[0]) / COUNTED


def print_instructions(sizes: list[int]) -> None:
    print(f"instructions per transaction ({COUNTED} of each, callgrind):")
    print(f"{'entries':>8} {'untouched':>14} {'read whole':>14} {'3 rows+commit':>14}")
    for size in sizes:
        counts = [instructions(mode, size) for mode in ("untouched", "touched", "handler")]
        print(f"{size:>8}" + "".join(f" {count / 1000:>12.1f} k" for count in counts))


def parse_sizes(text: str) -> Any:
    return sorted(int(size) for size in text.split(","))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", type=parse_sizes, default=[0, 1000, 10_000, 100_000], help="entries"
    )
    parser.add_argument(
        "--instructions", action="store_true", help="also count instructions (needs valgrind)"
    )
    parser.add_argument("--repeat", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.repeat:
        mode, size, count = options.repeat.split(",")
        asyncio.run(repeat(mode, int(size), int(count)))
    else:
        asyncio.run(main(options.sizes))
        if options.instructions:
            print_instructions(options.sizes)
