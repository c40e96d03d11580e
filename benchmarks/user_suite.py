"""What the plugin costs the suite a user writes after migrating to it, against the tutorial's.

    python benchmarks/user_suite.py [--tests 500] [--rounds 15] [--repositories hook|fixture]
                                    [--loaded] [--instructions] [--breakdown]

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

With --loaded, the hand-written suite also runs with the plugin enabled
against disabled: what installing the plugin costs a suite that uses none of
its fixtures (its hooks run, and its recorder records the hand-written store).

With --instructions, each suite also runs once under valgrind's callgrind, and
the ratio of the instructions they execute is printed: slow (minutes), but the
same on a quiet machine and on a busy one.

With --breakdown, it prints instead where each suite's time goes, in
microseconds per test (the median of --rounds runs of each): the set-up, call
and teardown phases as pytest reports them, and within the call each step of
the test body (entering the block, the handle, the commit, leaving the block,
the expected event, each check), timed by perf_counter calls that only the
breakdown's copies of the suites contain.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
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

# The same transaction in both suites; only the checks after it differ. A
# "#> step" comment ends a step of the breakdown (see _timed): elsewhere, a
# comment.
REGISTER_BOOK = """
    cmd = RegisterBook(id=UUID(int={n}), title="Book {n}", author="Author {n}")
    #> begin
    async with uow as transaction:
        #> enter the block
        await bus.handle(cmd, transaction)
        #> handle
        await transaction.commit()
        #> commit
    #> leave the block
    event = BookRegistered(id=cmd.id, title=cmd.title, author=cmd.author)
    #> the expected event"""

PLUGIN_HEADER = TEST_HEADER + "from pytest_messagebus_eventstore import assert_messages\n"

PLUGIN_TEST = (
    """

async def test_register_book_{n}(bus, uow, transport):"""
    + REGISTER_BOOK
    + """
    assert_messages(uow, [cmd, event])
    #> check the store
    assert_messages(transport, [cmd])
    #> check the transport
"""
)

HANDWRITTEN_TEST = (
    """

async def test_register_book_{n}(bus, uow, eventstore, transport):"""
    + REGISTER_BOOK
    + """
    assert eventstore.messages == [cmd, event]
    #> check the store
    assert len(transport.events) == 1
    assert transport.events[0]["type"] == "register_book_v1"
    #> check the transport
"""
)

_STEP = re.compile(r"^( *)#> (.+)$", re.MULTILINE)
# The steps of both suites, "begin" aside: it starts the first.
STEPS = [step for _, step in _STEP.findall(PLUGIN_TEST)[1:]]
assert [step for _, step in _STEP.findall(HANDWRITTEN_TEST)[1:]] == STEPS

# Appended to each conftest of the breakdown: the time of each step, summed
# over the tests, and of each phase as pytest reports it, written to
# steps.json when the session ends.
TIMING_PLUGIN = """

import json as _json
from time import perf_counter as _perf_counter

_totals = {}
_last = [0.0]


def step_ended(step):
    now = _perf_counter()
    if step != "begin":
        _totals[step] = _totals.get(step, 0.0) + now - _last[0]
    _last[0] = now


def pytest_runtest_logreport(report):
    _totals[report.when] = _totals.get(report.when, 0.0) + report.duration


def pytest_unconfigure(config):
    (config.rootpath / "steps.json").write_text(_json.dumps(_totals))
"""


def _timed(test_function: str) -> str:
    """``test_function`` with a call timing each step where its comment ends it."""
    return _STEP.sub(lambda found: f'{found.group(1)}step_ended("{found.group(2)}")', test_function)


# How the plugin suite gets its repositories: the conftest's replacements.
VARIANTS: dict[str, dict[str, str]] = {
    "hook": {},
    "fixture": REPOSITORIES_FIXTURE,
}
HEADINGS = {
    "hook": "plugin with repositories from the pytest_messagebus_repositories hook",
    "fixture": "plugin with repositories from an override of the messagebus_repositories fixture",
    "loaded": "hand-written suite, plugin enabled against disabled (--loaded)",
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
        "--loaded",
        action="store_true",
        help="also run the hand-written suite with the plugin enabled, against disabled",
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also count the instructions of one run of each suite (needs valgrind)",
    )
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="where the time of each suite goes: phases and steps of the test, per test",
    )
    options = parser.parse_args()
    variants = [options.repositories] if options.repositories else list(VARIANTS)
    tests: int = options.tests
    if options.breakdown:
        if options.loaded:
            parser.error("--loaded measures whole runs; --breakdown does not take it")
        breakdown(tests, options.rounds, variants)
        return

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
        if options.loaded:
            plugin_dirs["loaded"] = handwritten_dir

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
            print(f"{HEADINGS[variant]}:")

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
        if variant == "loaded":
            # No target: it is a part of each variant's ratio, not a suite of its own.
            measured = ", ".join(f"{kind} {ratio:.3f}" for kind, ratio in ratio_of.items())
            print(f"loaded: plugin enabled / disabled, hand-written suite: {measured}")
            continue
        measured = ", ".join(
            f"{kind} {ratio:.3f} ({_verdict(ratio)})" for kind, ratio in ratio_of.items()
        )
        print(f"{variant}: plugin / hand-written (target <= {TARGET}): {measured}")


def breakdown(tests: int, rounds: int, variants: list[str]) -> None:
    """Print the median time per test of each phase and step, for each suite."""
    with tempfile.TemporaryDirectory(prefix="user-suite-steps-") as tmp:
        suites = {
            "hand-written": (
                write_suite(
                    Path(tmp, "handwritten"),
                    HANDWRITTEN_CONFTEST + TIMING_PLUGIN,
                    HANDWRITTEN_INI,
                    tests,
                    _timed(HANDWRITTEN_TEST),
                    TEST_HEADER + "from conftest import step_ended\n",
                ),
                NO_PLUGIN,
            ),
            **{
                f"plugin, {variant}": (
                    write_suite(
                        Path(tmp, f"plugin-{variant}"),
                        _replaced(PLUGIN_CONFTEST, VARIANTS[variant]) + TIMING_PLUGIN,
                        PLUGIN_INI,
                        tests,
                        _timed(PLUGIN_TEST),
                        PLUGIN_HEADER + "from conftest import step_ended\n",
                    ),
                    (),
                )
                for variant in variants
            },
        }
        print(f"machine: {machine()}")
        print(f"versions: {versions()}")
        print(f"{tests} tests per suite, median of {rounds} runs of each, microseconds per test")
        totals: dict[str, list[dict[str, float]]] = {name: [] for name in suites}
        for round_ in range(rounds + 1):
            for name, (directory, args) in suites.items():
                run_pytest(directory, *args, expect_passed=tests)
                if round_:  # the first round warms the caches
                    totals[name].append(json.loads((directory / "steps.json").read_text()))
    rows = ["setup", "call", *(f"  {step}" for step in STEPS), "teardown"]
    names = list(suites)
    print(f"{'':24}" + "".join(f"{name:>24}" for name in names))
    for row in rows:
        key = row.strip()
        medians = [statistics.median(run[key] for run in totals[name]) for name in names]
        cells = [f"{median / tests * 1e6:8.1f}" for median in medians[:1]] + [
            f"{median / tests * 1e6:8.1f} ({(median - medians[0]) / tests * 1e6:+6.1f})"
            for median in medians[1:]
        ]
        print(f"{row:24}" + "".join(f"{cell:>24}" for cell in cells))


if __name__ == "__main__":
    main()
