"""Helpers shared by the benchmark scripts: timing pytest runs and describing the machine."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

# Plugins that are installed with the test extra but have nothing to do with
# what is measured: disabled on both sides of every comparison, to cut noise.
QUIET = (
    *("-p", "no:randomly", "-p", "no:cacheprovider", "-p", "no:cov"),
    *("-p", "no:xdist", "-p", "no:hypothesispytest"),
)
NO_PLUGIN = ("-p", "no:messagebus_eventstore")


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


def run_pytest(project: Path, *args: str, expect_passed: int | None = None) -> float:
    """Seconds one ``pytest`` run in a subprocess takes; fails unless it passed."""
    command = [sys.executable, "-m", "pytest", "-q", *QUIET, *args]
    start = time.perf_counter()
    result = subprocess.run(command, cwd=project, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    last = result.stdout.strip().splitlines()[-1:] or [""]
    if result.returncode not in (0, 5) or (
        expect_passed is not None and f"{expect_passed} passed" not in last[0]
    ):
        sys.exit(
            f"pytest failed in {project} ({' '.join(args)}):\n{result.stdout[-3000:]}"
            f"\n{result.stderr[-3000:]}"
        )
    return elapsed


def median_ms(times: list[float]) -> float:
    return statistics.median(times) * 1000
