"""What installing the plugin adds to pytest's start-up.

    python benchmarks/startup.py [--runs 21]

Times ``pytest --collect-only -q`` with the plugin and without it
(``-p no:messagebus_eventstore``), alternating, on two generated projects:
one that never imports messagebus, and one whose tests import it anyway.
Prints the medians and what the plugin adds (the median of the paired
differences), then the modules that only the run with the plugin imports,
from ``python -X importtime``, costliest first.
Targets: <= 30 ms added without messagebus, <= 10 ms added with it.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import ENV, NO_PLUGIN, QUIET, Timing, machine, median_ms, run_pytest, versions

PLAIN_TEST = """
def test_{n}():
    assert {n} + 1 == {n1}
"""

MESSAGEBUS_TEST = """
from uuid import UUID

from messagebus import Command, Metadata


class Ping{n}(Command):
    id: UUID
    metadata: Metadata = Metadata(name="ping_{n}", schema_version=1)


def test_{n}():
    assert Ping{n}(id=UUID(int={n})).id.int == {n}
"""

PROJECTS = {
    "never imports messagebus": (PLAIN_TEST, 30.0),
    "imports messagebus": (MESSAGEBUS_TEST, 10.0),
}


def write_project(root: Path, template: str, files: int = 10) -> Path:
    root.mkdir()
    (root / "pytest.ini").write_text("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    for n in range(files):
        (root / f"test_{n:02}.py").write_text(template.format(n=n, n1=n + 1))
    return root


def imported_modules(project: Path, *args: str) -> dict[str, tuple[int, int]]:
    """Module name -> (self, cumulative) import time in microseconds."""
    command = [sys.executable, "-X", "importtime", "-m", "pytest", "--collect-only", "-q"]
    result = subprocess.run(
        [*command, *QUIET, *args],
        cwd=project,
        env=ENV,
        capture_output=True,
        text=True,
        check=True,
    )
    modules = {}
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, cumulative, name = line.removeprefix("import time:").split("|")
        modules[name.strip()] = (int(own), int(cumulative))
    return modules


def explain(project: Path) -> None:
    with_plugin = imported_modules(project)
    without = imported_modules(project, *NO_PLUGIN)
    extra = {name: times for name, times in with_plugin.items() if name not in without}
    total = sum(own for own, _ in extra.values()) / 1000
    # The entry point loads the plugin module through importlib, which
    # -X importtime does not time: only the modules it imports in turn show.
    print(f"  imported only with the plugin: {len(extra)} modules, {total:.1f} ms (self)")
    for name, (own, cumulative) in sorted(extra.items(), key=lambda item: -item[1][0])[:8]:
        print(f"    {own / 1000:6.1f} ms self {cumulative / 1000:7.1f} ms cumulative  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21, help="runs of each command (21)")
    options = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"versions: {versions()}")
    with tempfile.TemporaryDirectory(prefix="startup-") as tmp:
        for index, (label, (template, target)) in enumerate(PROJECTS.items()):
            project = write_project(Path(tmp, f"project{index}"), template)
            runs = {
                "with": lambda project=project: run_pytest(project, "--collect-only"),
                "without": lambda project=project: run_pytest(
                    project, "--collect-only", *NO_PLUGIN
                ),
            }
            for run in runs.values():
                run()  # warm-up: bytecode and page caches
            timings: dict[str, list[Timing]] = {name: [] for name in runs}
            for round_ in range(options.runs):
                order = list(runs) if round_ % 2 == 0 else list(reversed(runs))
                for name in order:
                    timings[name].append(runs[name]())
            wall = {name: median_ms([t.wall for t in runs_of]) for name, runs_of in timings.items()}
            # The median of the paired differences: steadier than a difference of
            # medians when the machine's load drifts during the runs.
            pairs = list(zip(timings["with"], timings["without"], strict=True))
            added = statistics.median(a.wall - b.wall for a, b in pairs) * 1000
            added_cpu = statistics.median(a.cpu - b.cpu for a, b in pairs) * 1000
            verdict = "OK" if added <= target else "MISSED"
            print(
                f"project that {label}: with plugin {wall['with']:.0f} ms, without "
                f"{wall['without']:.0f} ms, added {added:+.1f} ms (target <= {target:.0f} ms: "
                f"{verdict}); cpu added {added_cpu:+.1f} ms"
            )
            explain(project)


if __name__ == "__main__":
    main()
