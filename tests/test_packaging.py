"""Installation: the entry point, the public API and lazy imports."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from importlib.metadata import entry_points, version
from pathlib import Path

import pytest
from packaging.version import Version

import pytest_messagebus_eventstore


def test_registered_as_pytest11_entry_point() -> None:
    (entry_point,) = [
        ep for ep in entry_points(group="pytest11") if ep.name == "messagebus_eventstore"
    ]
    assert entry_point.value == "pytest_messagebus_eventstore.plugin"


def test_public_api_is_listed_and_importable() -> None:
    for name in pytest_messagebus_eventstore.__all__:
        if name == "InMemoryMetricsStore" and Version(version("messagebus")) < Version("0.14"):
            with pytest.raises(ImportError, match=r"needs messagebus 0\.14 or later"):
                getattr(pytest_messagebus_eventstore, name)
            continue
        # The async classes also under the names unasync renames to their sync twins.
        real = name.removeprefix("Async") if name.startswith("AsyncInMemory") else name
        assert getattr(pytest_messagebus_eventstore, name).__name__ == real
        assert getattr(pytest_messagebus_eventstore, name) is getattr(
            pytest_messagebus_eventstore, real
        )
        if real != name:
            sync_twin = getattr(pytest_messagebus_eventstore, "Sync" + real)
            assert sync_twin.__name__ == "Sync" + real
    assert sorted(dir(pytest_messagebus_eventstore)) == sorted(pytest_messagebus_eventstore.__all__)


def test_unknown_name_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        pytest_messagebus_eventstore.Nope  # noqa: B018


def test_ships_type_information() -> None:
    assert (Path(pytest_messagebus_eventstore.__file__).parent / "py.typed").is_file()


def test_plugin_does_not_import_messagebus_at_start_up(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import sys

        def pytest_sessionfinish(session):
            print("messagebus imported:", "messagebus" in sys.modules)
        """
    )
    pytester.makepyfile("def test_plain(): pass")
    result = pytester.runpytest_subprocess("-s", "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*messagebus imported: False"])


def test_importing_the_package_does_not_import_messagebus() -> None:
    code = (
        "import sys, pytest_messagebus_eventstore, pytest_messagebus_eventstore.plugin;"
        "print('messagebus' in sys.modules)"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.strip() == "False"


def test_modules_are_imported_by_python_not_by_the_assertion_rewriter(
    pytester: pytest.Pytester,
) -> None:
    # pytest marks every module of a plugin's distribution for rewriting, and
    # loads rewritten modules slowly; ours have no assert worth rewriting.
    pytester.makeconftest(
        """
        import sys

        def pytest_sessionfinish(session):
            for name in ("plugin", "_given", "_deterministic", "_stores", "uow"):
                module = sys.modules["pytest_messagebus_eventstore." + name]
                print(name, "loaded by", type(module.__loader__).__name__)
        """
    )
    pytester.makepyfile("def test_uses_the_store(uow): pass")
    result = pytester.runpytest_subprocess(
        "-s", "-p", "no:randomly", "-W", "error::pytest.PytestAssertRewriteWarning"
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [f"*{name} loaded by SourceFileLoader" for name in ("plugin", "_given", "_stores", "uow")]
    )
    result.stdout.no_fnmatch_line("*AssertionRewritingHook*")


def _built(kind: str, directory: Path) -> Path:
    """The ``kind`` (wheel or sdist) of this checkout, built with hatchling into ``directory``."""
    root = Path(__file__).resolve().parent.parent
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "--target", kind, "-d", str(directory)],
        cwd=root,
        capture_output=True,
        check=True,
    )
    (built,) = directory.iterdir()
    return built


def test_wheel_ships_the_licence_the_metadata_declares(tmp_path: Path) -> None:
    wheel = _built("wheel", tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (metadata,) = [name for name in names if name.endswith(".dist-info/METADATA")]
        headers = archive.read(metadata).decode().split("\n\n", 1)[0].splitlines()
        (licence,) = [name for name in names if name.endswith(".dist-info/licenses/LICENSE")]
        text = archive.read(licence).decode()
    assert "License-Expression: MIT" in headers
    assert "License-File: LICENSE" in headers
    assert text.startswith("MIT License")
    # The package, its type information and its metadata: nothing else.
    assert "pytest_messagebus_eventstore/py.typed" in names
    assert {name.split("/")[0] for name in names} == {
        "pytest_messagebus_eventstore",
        metadata.split("/")[0],
    }


def test_sdist_ships_the_licence_and_the_changelog(tmp_path: Path) -> None:
    sdist = _built("sdist", tmp_path)
    with tarfile.open(sdist) as archive:
        top = archive.getnames()[0].split("/")[0]
        names = set(archive.getnames())
    assert {f"{top}/LICENSE", f"{top}/CHANGELOG.md", f"{top}/README.md"} <= names
