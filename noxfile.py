"""The quality gates and the test matrix: ``nox`` runs them all, ``nox -l`` lists them.

Environments are made with uv and reused with ``nox -r``. Each test session
names what it pins; together they run the whole suite on every Python from
3.10 to 3.13, every messagebus minor release from 0.12.0 to the latest,
pytest-asyncio 0.23.8, 1.0 and the latest in both asyncio modes, pytest 8.0
and the latest, and pre-releases of pytest and pytest-asyncio. A Python that
the machine lacks is skipped, and nox says so in its summary.

Every pytest run turns deprecation warnings into errors, and pyproject.toml
adds ``--strict-config``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv"
nox.options.error_on_missing_interpreters = False

ROOT = Path(__file__).parent
DEFAULT_PYTHON = "3.11"
WARNINGS = {"PYTHONWARNINGS": "error::DeprecationWarning"}
# The in-memory unit of work against SQLite: more sequences than a developer's run.
DIFFERENTIAL = {**WARNINGS, "MESSAGEBUS_DIFFERENTIAL_EXAMPLES": "300"}
COVERAGE = ["--cov=pytest_messagebus_eventstore", "--cov-branch", "--cov-report="]
COVERAGE_MIN = "95"
# What the build session runs against the installed wheel.
PACKAGING_TESTS = ["tests/test_packaging.py", "tests/test_private_api.py"]


def _versions(session: nox.Session) -> None:
    """Prints the versions the session tests; fails if its Python is not the one it names."""
    if isinstance(session.python, str):
        session.run(
            "python",
            "-c",
            "import sys; wanted = sys.argv[1]; running = '%d.%d' % sys.version_info[:2]; "
            "sys.exit(None if running == wanted else f'Python {running}, not {wanted}')",
            session.python,
            silent=True,
        )
    session.run(
        "python",
        "-c",
        "import sys; from importlib.metadata import version as v; "
        "print(sys.version.split()[0], *(f'{n} {v(n)}' for n in sys.argv[1:]), sep=', ')",
        "messagebus",
        "pytest",
        "pytest-asyncio",
        "pluggy",
        "pydantic",
        silent=False,
    )


@nox.session(python=DEFAULT_PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check, ruff format --check, mypy --strict."""
    session.install("-e", ".[test]")
    session.run("ruff", "check")
    session.run("ruff", "format", "--check")
    session.run("mypy")


@nox.session(python=DEFAULT_PYTHON)
def docs(session: nox.Session) -> None:
    """The manual, built with Sphinx; any warning fails the build."""
    session.install("-e", ".[docs]")
    build = session.create_tmp()
    session.run("sphinx-build", "-W", "--keep-going", "-q", "-b", "html", "docs", build)


@nox.session(python=DEFAULT_PYTHON)
def readme(session: nox.Session) -> None:
    """The README's two set-up commands, on the latest releases."""
    session.install("-e", ".[test]")
    _versions(session)
    session.run("pytest", "examples/reading_club", env=WARNINGS)
    session.run("pytest", "-n", "auto", env=DIFFERENTIAL)


@nox.session(python="3.10")
def lowest(session: nox.Session) -> None:
    """Every direct dependency at the lowest version pyproject.toml allows, both modes."""
    session.install("--resolution", "lowest-direct", "-e", ".[test]")
    _versions(session)
    session.run("pytest", "-n", "2", *COVERAGE, env=DIFFERENTIAL)
    session.run("pytest", "-n", "2", "-o", "asyncio_mode=strict", env=WARNINGS)


# Each row covers values no other session does; pytest is the latest that the
# row's pytest-asyncio allows. messagebus 0.14 and earlier call
# datetime.utcnow(), which Python 3.12 deprecates: they run on Python 3.11.
MATRIX = [
    ("3.11", "0.13.0", "1.0.0", "auto"),
    ("3.11", "0.14.0", "1.0.0", "strict"),
    ("3.12", "0.15.2", "latest", "auto"),
    ("3.13", "latest", "latest", "strict"),
]


def _matrix_session(python: str, messagebus: str, pytest_asyncio: str, mode: str) -> str:
    """Defines the session of one row of MATRIX; returns its name."""
    name = f"matrix-{python}-messagebus{messagebus}-asyncio{pytest_asyncio}-{mode}"

    @nox.session(python=python, name=name)
    def row(session: nox.Session) -> None:
        pins = [] if messagebus == "latest" else [f"messagebus=={messagebus}"]
        if pytest_asyncio != "latest":
            pins.append(f"pytest-asyncio=={pytest_asyncio}")
        session.install("-e", ".[test]", *pins)
        _versions(session)
        # The newest releases add their coverage to the lowest's.
        coverage = [*COVERAGE, "--cov-append"] if messagebus == "latest" else []
        session.run("pytest", "-n", "2", "-o", f"asyncio_mode={mode}", *coverage, env=WARNINGS)

    row.__doc__ = (
        f"The whole suite on Python {python}, messagebus {messagebus}, pytest-asyncio "
        f"{pytest_asyncio}, asyncio {mode} mode."
    )
    return name


MATRIX_SESSIONS = [_matrix_session(*row) for row in MATRIX]


@nox.session(python="3.13")
def pre(session: nox.Session) -> None:
    """Pre-releases of pytest and pytest-asyncio: a private pytest name that goes away shows."""
    session.install("-e", ".[test]")
    session.install("--prerelease", "allow", "--upgrade", "pytest", "pytest-asyncio")
    _versions(session)
    session.run("pytest", "-n", "2", env=WARNINGS)


@nox.session(python=DEFAULT_PYTHON)
def build(session: nox.Session) -> None:
    """The wheel and the sdist, checked, and the wheel installed (not editable) and tested."""
    session.install("twine")
    dist = Path(session.create_tmp()) / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    session.run("uv", "build", "--out-dir", str(dist), external=True)
    files = sorted(str(path) for path in [*dist.glob("*.whl"), *dist.glob("*.tar.gz")])
    session.run("twine", "check", "--strict", *files)
    (wheel,) = (name for name in files if name.endswith(".whl"))
    session.install(f"{wheel}[test]")
    location = session.run(
        "python", "-c", "import pytest_messagebus_eventstore as p; print(p.__file__)", silent=True
    )
    if location is None or "site-packages" not in location:
        session.error(f"the tests would not use the installed wheel: {location}")
    # pytest 8.0 loads an installed plugin's modules through its assertion
    # rewriter unless the package opts out, which an editable install never shows.
    for pins in ([], ["pytest==8.0.0", "pytest-asyncio==0.23.8"]):
        if pins:
            session.install(*pins)
        _versions(session)
        session.run("pytest", "examples/reading_club", env=WARNINGS)
        session.run("pytest", "-p", "no:randomly", *PACKAGING_TESTS, env=WARNINGS)


@nox.session(python=DEFAULT_PYTHON)
def coverage(session: nox.Session) -> None:
    """Branch coverage of the lowest and the latest releases together: at least 95 %."""
    session.install("coverage[toml]")
    if not (ROOT / ".coverage").exists():
        session.error("no coverage data: run the lowest session and the matrix first")
    session.run("coverage", "report", f"--fail-under={COVERAGE_MIN}")


nox.options.sessions = [
    "lint",
    "docs",
    "readme",
    "lowest",
    *MATRIX_SESSIONS,
    "pre",
    "build",
    "coverage",
]
