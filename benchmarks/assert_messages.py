"""Timings of assert_messages on long lists of messages.

Run with ``python benchmarks/assert_messages.py``. Prints, for 1k, 10k and
100k messages, the time of an ordered and an unordered comparison of equal
lists, and of lists whose last message differs in one field (the failure text
included); an unordered comparison is also timed against the expected list
shuffled, where no message is at its expected position. The last column is
the floor on the same machine: one ``model_dump`` of every message of both
lists, what ``==`` between messages is defined on. Then how the time grows
from 10k to 100k.

With ``--breakdown``, it prints instead where the time of the shuffled
unordered comparison goes at 10k and 100k messages: the dumps of both lists,
the pairing of the dumps, the garbage collections during the call, and the
peak of the memory tracemalloc traces.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import random
import time
import tracemalloc
from uuid import UUID

from messagebus import Event, Metadata

from pytest_messagebus_eventstore import assert_messages
from pytest_messagebus_eventstore._compare import dump_each, pair_instances


class BookRegistered(Event):
    id: UUID
    isbn: str
    title: str
    author: str
    metadata: Metadata = Metadata(name="book_registered", schema_version=1)


def messages(count: int) -> list[BookRegistered]:
    return [
        BookRegistered(id=UUID(int=i), isbn=f"isbn-{i}", title=f"Title {i}", author="Eric Evans")
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


def dump_all(items: list[BookRegistered]) -> float:
    # Without the garbage collector, as assert_messages runs.
    gc.disable()
    try:
        start = time.perf_counter()
        for item in items:
            item.model_dump(exclude={"message_id", "created_at"})
        return time.perf_counter() - start
    finally:
        gc.enable()


CASES = ("equal", "last differs", "shuffled")


def breakdown() -> None:
    collections: list[int] = []

    def count_collections(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    print(f"{'messages':>9}  {'total':>9}  {'dumps':>9}  {'pairing':>9}  {'gc runs':>7}  peak")
    for count in (10_000, 100_000):
        actual = messages(count)
        expected = messages(count)
        random.Random(0).shuffle(expected)
        total = timed(actual, expected, ordered=False)
        gc.callbacks.append(count_collections)
        try:
            assert_messages(actual, expected, ordered=False)
        finally:
            gc.callbacks.remove(count_collections)
        start = time.perf_counter()
        expected_dumps, dumps = dump_each(expected), dump_each(actual)
        dumping = time.perf_counter() - start
        # Without the garbage collector, as assert_messages pairs them.
        gc.disable()
        try:
            start = time.perf_counter()
            pair_instances(expected_dumps, dumps)
            pairing = time.perf_counter() - start
        finally:
            gc.enable()
        tracemalloc.start()
        assert_messages(actual, expected, ordered=False)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(
            f"{count:>9}  {total * 1000:>7.1f}ms  {dumping * 1000:>7.1f}ms  "
            f"{pairing * 1000:>7.1f}ms  {len(collections):>7}  {peak / 2**20:.0f} MiB"
        )
        collections.clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--breakdown", action="store_true", help="where the shuffled comparison's time goes"
    )
    if parser.parse_args().breakdown:
        breakdown()
        return
    shuffle = random.Random(0).shuffle
    results: dict[tuple[int, str, str], float] = {}
    header = "".join(f"  {case:>13}" for case in (*CASES, "model_dump"))
    print(f"{'messages':>9}  {'mode':<9}{header}")
    for count in (1_000, 10_000, 100_000):
        actual = messages(count)
        expected = messages(count)
        differing = [*expected[:-1], expected[-1].model_copy(update={"title": "Other"})]
        shuffled = list(expected)
        shuffle(shuffled)
        floor = min(dump_all([*actual, *expected]) for _ in range(3))
        for mode in ("ordered", "unordered"):
            ordered = mode == "ordered"
            results[count, mode, "equal"] = timed(actual, expected, ordered)
            results[count, mode, "last differs"] = timed(actual, differing, ordered)
            if not ordered:
                results[count, mode, "shuffled"] = timed(actual, shuffled, ordered)
            cells = [results.get((count, mode, case)) for case in CASES]
            shown = "".join(
                f"  {'-':>13}" if cell is None else f"  {cell * 1000:>11.1f}ms" for cell in cells
            )
            print(f"{count:>9}  {mode:<9}{shown}  {floor * 1000:>11.1f}ms")
    print("growth from 10k to 100k:")
    for (count, mode, case), seconds in results.items():
        if count == 100_000:
            growth = seconds / results[10_000, mode, case]
            print(f"  {mode:<9}  {case:<12}  x{growth:.1f}")


if __name__ == "__main__":
    main()
