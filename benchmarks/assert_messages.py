"""Timings of assert_messages on long lists of messages.

Run with ``python benchmarks/assert_messages.py``. Prints, for 1k, 10k and
100k messages, the time of an ordered and an unordered comparison of equal
lists, and of lists whose last message differs in one field (the failure text
included), then how the time grows from 10k to 100k.
"""

from __future__ import annotations

import contextlib
import time
from uuid import UUID

from messagebus import Event, Metadata

from pytest_messagebus_eventstore import assert_messages


class BookRegistered(Event):
    id: UUID
    isbn: str
    title: str
    author: str
    tags: tuple[str, ...] = ()
    metadata: Metadata = Metadata(name="book_registered", schema_version=1)


def messages(count: int) -> list[BookRegistered]:
    return [
        BookRegistered(
            id=UUID(int=i), isbn=f"isbn-{i}", title=f"Title {i}", author="Eric Evans", tags=("ddd",)
        )
        for i in range(count)
    ]


def timed(actual: list[BookRegistered], expected: list[BookRegistered], ordered: bool) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        with contextlib.suppress(AssertionError):
            assert_messages(actual, expected, ordered=ordered)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    results: dict[tuple[int, bool, bool], float] = {}
    print(f"{'messages':>9}  {'mode':<9}  {'equal':>10}  {'last differs':>12}")
    for count in (1_000, 10_000, 100_000):
        actual = messages(count)
        expected = messages(count)
        differing = [*expected[:-1], expected[-1].model_copy(update={"title": "Other"})]
        for ordered in (True, False):
            equal = timed(actual, expected, ordered)
            different = timed(actual, differing, ordered)
            results[count, ordered, True] = equal
            results[count, ordered, False] = different
            mode = "ordered" if ordered else "unordered"
            print(f"{count:>9}  {mode:<9}  {equal * 1000:>8.1f}ms  {different * 1000:>10.1f}ms")
    print("growth from 10k to 100k:")
    for ordered in (True, False):
        for equal in (True, False):
            growth = results[100_000, ordered, equal] / results[10_000, ordered, equal]
            mode = "ordered" if ordered else "unordered"
            case = "equal" if equal else "last differs"
            print(f"  {mode:<9} {case:<12} x{growth:.1f}")


if __name__ == "__main__":
    main()
