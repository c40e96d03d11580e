"""Helpers shared by the benchmark scripts: timing pytest runs and describing the machine."""

from __future__ import annotations

import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Callable

# Plugins that are installed with the test extra but have nothing to do with
# what is measured: disabled on both sides of every comparison, to cut noise.
QUIET = (
    *("-p", "no:randomly", "-p", "no:cacheprovider", "-p", "no:cov"),
    *("-p", "no:xdist", "-p", "no:hypothesispytest"),
)
NO_PLUGIN = ("-p", "no:messagebus_eventstore")

# As on a developer's machine: bytecode and rewritten test modules are cached
# after the warm-up run, even where the environment asks Python not to.
ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def machine() -> str:
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (
        f"{os.cpu_count()} cores, {model}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def versions() -> str:
    from importlib.metadata import version

    names = ("messagebus", "pytest", "pytest-asyncio", "pydantic")
    return ", ".join(f"{name} {version(name)}" for name in names)


class Timing(NamedTuple):
    wall: float
    cpu: float  # user + system seconds of the pytest process


def run_pytest(project: Path, *args: str, expect_passed: int | None = None) -> Timing:
    """How long one ``pytest`` run in a subprocess takes; fails unless it passed.

    The CPU time is reported next to the wall time: on a machine shared with
    other work, it is the steadier of the two.
    """
    command = [sys.executable, "-m", "pytest", "-q", *QUIET, *args]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(
        command, cwd=project, env=ENV, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    last = result.stdout.strip().splitlines()[-1:] or [""]
    if result.returncode not in (0, 5) or (
        expect_passed is not None and f"{expect_passed} passed" not in last[0]
    ):
        sys.exit(
            f"pytest failed in {project} ({' '.join(args)}):\n{result.stdout[-3000:]}"
            f"\n{result.stderr[-3000:]}"
        )
    return Timing(elapsed, cpu)


def median_ms(times: list[float]) -> float:
    return statistics.median(times) * 1000


def count_instructions(project: Path, *args: str) -> int:
    """The instructions one ``pytest`` run executes, counted by valgrind's callgrind.

    Unlike times, the count does not change with what else the machine is
    doing. The hash seed is fixed so that two runs of the same code agree.
    """
    if shutil.which("valgrind") is None:
        sys.exit("--instructions needs valgrind (Debian package valgrind)")
    env = {**ENV, "PYTHONHASHSEED": "0"}
    with tempfile.TemporaryDirectory() as tmp:
        command = [
            *("valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/callgrind.out"),
            *(sys.executable, "-m", "pytest", "-q", *QUIET, *args),
        ]
        result = subprocess.run(
            command, cwd=project, env=env, capture_output=True, text=True, check=False
        )
    found = re.search(r"Collected : (\d+)", result.stderr)
    if result.returncode != 0 or found is None:
        sys.exit(f"valgrind failed in {project}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return int(found.group(1))


def paired_rounds(
    plugin: Callable[[], Timing],
    handwritten: Callable[[], Timing],
    rounds: int,
    *,
    indent: str = "",
) -> tuple[list[Timing], list[Timing]]:
    """The timings of each suite, run in pairs, printing each pair as it ends."""
    plugin_runs: list[Timing] = []
    handwritten_runs: list[Timing] = []
    for round_ in range(rounds):
        # Alternate which suite goes first, so that drift hits both alike.
        if round_ % 2 == 0:
            plugin_runs.append(plugin())
            handwritten_runs.append(handwritten())
        else:
            handwritten_runs.append(handwritten())
            plugin_runs.append(plugin())
        mine, theirs = plugin_runs[-1], handwritten_runs[-1]
        print(
            f"{indent}round {round_ + 1:2}: plugin {mine.wall * 1000:6.0f} ms "
            f"(cpu {mine.cpu * 1000:6.0f}), hand-written {theirs.wall * 1000:6.0f} ms "
            f"(cpu {theirs.cpu * 1000:6.0f}), ratio {mine.wall / theirs.wall:.3f} "
            f"(cpu {mine.cpu / theirs.cpu:.3f})"
        )
    return plugin_runs, handwritten_runs


def ratios(plugin_runs: list[Timing], handwritten_runs: list[Timing]) -> dict[str, float]:
    """The median of the per-pair ratios plugin / hand-written, wall and CPU time."""
    pairs = list(zip(plugin_runs, handwritten_runs, strict=True))
    return {
        "wall": statistics.median(mine.wall / theirs.wall for mine, theirs in pairs),
        "cpu": statistics.median(mine.cpu / theirs.cpu for mine, theirs in pairs),
    }


def print_medians(
    plugin_runs: list[Timing], handwritten_runs: list[Timing], *, indent: str = ""
) -> None:
    for name, runs in (("plugin", plugin_runs), ("hand-written", handwritten_runs)):
        wall = median_ms([timing.wall for timing in runs])
        cpu = median_ms([timing.cpu for timing in runs])
        print(f"{indent}median {name + ':':13} {wall:6.0f} ms wall, {cpu:6.0f} ms cpu")
