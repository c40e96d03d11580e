"""What the plugin costs the suite a user writes after migrating to it, against the tutorial's.

    python benchmarks/user_suite.py [--tests 500] [--rounds 15] [--repositories hook|fixture]
                                    [--instructions]

Generates two suites of N tests (50 a file) on overhead.py's bookshop app. Each
test registers one book in one committed transaction, as in overhead.py, then
checks what was recorded as each suite would: the plugin suite with
``assert_messages(uow, [cmd, BookRegistered(...)])`` and
``assert_messages(transport, [cmd])``, as the README shows; the hand-written
suite, on the tutorial's conftest run with the plugin disabled, with ``==`` on
the store's messages and a look at the type of the one event the transport
received. Unlike overhead.py, where both suites run the same test body, this
includes what assert_messages costs over those plain checks.

The plugin suite gets its repositories from the pytest_messagebus_repositories
hook or from an override of the messagebus_repositories fixture; by default
both variants are measured, one after the other, each against the hand-written
suite. Each variant runs in paired rounds that alternate which suite goes first,
after a warm-up run of every suite, and prints every round, then the medians and
the median of the per-pair ratios (wall and CPU time). Target: plugin /
hand-written <= 1.05.

With --instructions, each suite also runs once under valgrind's callgrind, and
the ratio of the instructions they execute is printed: slow (minutes), but the
same on a quiet machine and on a busy one.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

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
from overhead import (
    HANDWRITTEN_CONFTEST,
    HANDWRITTEN_INI,
    PLUGIN_CONFTEST,
    PLUGIN_INI,
    REPOSITORIES_FIXTURE,
    TARGET,
    TEST_HEADER,
    _replaced,
    _verdict,
    write_suite,
)

# The same transaction in both suites; only the checks after it differ.
REGISTER_BOOK = """
    cmd = RegisterBook(id=UUID(int={n}), title="Book {n}", author="Author {n}")
    async with uow as transaction:
        await bus.handle(cmd, transaction)
        await transaction.commit()"""

PLUGIN_HEADER = TEST_HEADER + "from pytest_messagebus_eventstore import assert_messages\n"

PLUGIN_TEST = (
    """

async def test_register_book_{n}(bus, uow, transport):"""
    + REGISTER_BOOK
    + """
    assert_messages(uow, [cmd, BookRegistered(id=cmd.id, title=cmd.title, author=cmd.author)])
    assert_messages(transport, [cmd])
"""
)

HANDWRITTEN_TEST = (
    """

async def test_register_book_{n}(bus, uow, eventstore, transport):"""
    + REGISTER_BOOK
    + """
    assert eventstore.messages == [
        cmd,
        BookRegistered(id=cmd.id, title=cmd.title, author=cmd.author),
    ]
    assert len(transport.events) == 1
    assert transport.events[0]["type"] == "register_book_v1"
"""
)

# How the plugin suite gets its repositories: the conftest's replacements.
VARIANTS: dict[str, dict[str, str]] = {
    "hook": {},
    "fixture": REPOSITORIES_FIXTURE,
}
DESCRIPTIONS = {
    "hook": "repositories from the pytest_messagebus_repositories hook",
    "fixture": "repositories from an override of the messagebus_repositories fixture",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=500, help="tests per suite (500)")
    parser.add_argument("--rounds", type=int, default=15, help="pairs of runs per variant (15)")
    parser.add_argument(
        "--repositories",
        choices=list(VARIANTS),
        help="how the plugin suite gets its repositories (default: both, one after the other)",
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also count the instructions of one run of each suite (needs valgrind)",
    )
    options = parser.parse_args()
    variants = [options.repositories] if options.repositories else list(VARIANTS)
    tests: int = options.tests

    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="user-suite-") as tmp:
        handwritten_dir = write_suite(
            Path(tmp, "handwritten"), HANDWRITTEN_CONFTEST, HANDWRITTEN_INI, tests, HANDWRITTEN_TEST
        )
        plugin_dirs = {
            variant: write_suite(
                Path(tmp, f"plugin-{variant}"),
                _replaced(PLUGIN_CONFTEST, VARIANTS[variant]),
                PLUGIN_INI,
                tests,
                PLUGIN_TEST,
                PLUGIN_HEADER,
            )
            for variant in variants
        }

        def handwritten() -> Timing:
            return run_pytest(handwritten_dir, *NO_PLUGIN, expect_passed=tests)

        print(f"machine: {machine()}")
        print(f"versions: {versions()}")
        print(f"{tests} tests per suite, {options.rounds} rounds per variant")
        # Warm-up: write the bytecode caches and fill the OS page cache for every suite.
        handwritten()
        for plugin_dir in plugin_dirs.values():
            run_pytest(plugin_dir, expect_passed=tests)
        handwritten_instructions = (
            count_instructions(handwritten_dir, *NO_PLUGIN) if options.instructions else 0
        )

        for variant, plugin_dir in plugin_dirs.items():
            print(f"plugin with {DESCRIPTIONS[variant]}:")

            def plugin(plugin_dir: Path = plugin_dir) -> Timing:
                return run_pytest(plugin_dir, expect_passed=tests)

            plugin_runs, handwritten_runs = paired_rounds(
                plugin, handwritten, options.rounds, indent="  "
            )
            print_medians(plugin_runs, handwritten_runs, indent="  ")
            results[variant] = ratios(plugin_runs, handwritten_runs)
            if options.instructions:
                instructions = count_instructions(plugin_dir)
                results[variant]["instructions"] = instructions / handwritten_instructions
                print(
                    f"  instructions: plugin {instructions / 1e6:,.0f} M, hand-written "
                    f"{handwritten_instructions / 1e6:,.0f} M"
                )

    for variant, ratio_of in results.items():
        measured = ", ".join(
            f"{kind} {ratio:.3f} ({_verdict(ratio)})" for kind, ratio in ratio_of.items()
        )
        print(f"{variant}: plugin / hand-written (target <= {TARGET}): {measured}")


if __name__ == "__main__":
    main()
