"""A scan that fails says what happened: not found, failed import, syntax error, listed twice."""

from __future__ import annotations

import pytest


def _error_of(result: pytest.RunResult, test: str) -> list[str]:
    """The lines of the error section of ``test``, between its header and the next one."""
    lines = result.stdout.lines
    start = next(i for i, line in enumerate(lines) if f"ERROR at setup of {test} " in line)
    end = next(
        i for i in range(start + 1, len(lines)) if lines[i].startswith(("___", "===", "---"))
    )
    # pytest 8.0 adds this line to a failure whose frames are all hidden.
    return [line for line in lines[start + 1 : end] if not line.startswith("All traceback")]


def _run(
    project: pytest.Pytester, scan: str, *, option: str = "messagebus_scan"
) -> pytest.RunResult:
    fixture = "bus" if option == "messagebus_scan" else "sync_bus"
    project.makepyfile(f"def test_uses_bus({fixture}): pass")
    result = project.runpytest("-o", f"{option}={scan}")
    result.assert_outcomes(errors=1)
    result.stdout.no_fnmatch_line("*Traceback*")
    result.stdout.no_fnmatch_line("*_scan.py*")
    return result


def test_module_not_found_names_the_module_and_the_option(project: pytest.Pytester) -> None:
    result = _run(project, "library.handlerz")
    result.stdout.fnmatch_lines(
        [
            "messagebus_scan: no module named 'library.handlerz'.",
            "Fix the module name in the messagebus_scan ini option, or make the module "
            "importable (e.g. with the pythonpath ini option).",
        ]
    )
    assert len(_error_of(result, "test_uses_bus")) == 2


def test_missing_package_of_the_module_is_named(project: pytest.Pytester) -> None:
    result = _run(project, "libary.sync_handlers", option="messagebus_sync_scan")
    result.stdout.fnmatch_lines(
        [
            "messagebus_sync_scan: no module named 'libary.sync_handlers' "
            "(no module named 'libary').",
            "Fix the module name in the messagebus_sync_scan ini option, *",
        ]
    )


def test_module_found_whose_import_fails_shows_the_failing_import(
    project: pytest.Pytester,
) -> None:
    (project.path / "library" / "mailing.py").write_text(
        "from messagebus import async_listen\n\nimport smtp_client_of_the_club\n"
    )
    result = _run(project, "library.mailing")
    result.stdout.fnmatch_lines(
        [
            "messagebus_scan: module 'library.mailing' was found, but importing it failed:",
            '  File "*library*mailing.py", line 3, in <module>',
            "    import smtp_client_of_the_club",
            "ModuleNotFoundError: No module named 'smtp_client_of_the_club'",
            "Install the package 'smtp_client_of_the_club', or fix the import.",
        ]
    )
    assert len(_error_of(result, "test_uses_bus")) == 5


def test_error_raised_while_importing_a_package_shows_its_last_frames(
    project: pytest.Pytester,
) -> None:
    # The package is scanned with its submodules: the error is two imports deep.
    (project.path / "library" / "settings.py").write_text(
        "import os\n\nSMTP_HOST = os.environ['CLUB_SMTP_HOST']\n"
    )
    (project.path / "library" / "mailing.py").write_text("from library.settings import SMTP_HOST\n")
    result = _run(project, "library")
    result.stdout.fnmatch_lines(
        [
            "messagebus_scan: module 'library' was found, but importing it failed:",
            '  File "*library*mailing.py", line 1, in <module>',
            "    from library.settings import SMTP_HOST",
            '  File "*library*settings.py", line 3, in <module>',
            "    SMTP_HOST = os.environ[[]'CLUB_SMTP_HOST'[]]",
            "*KeyError: 'CLUB_SMTP_HOST'",
            "Fix the error where it is raised.",
        ]
    )
    # The last frames only: not those of os.environ, nor the scanner's.
    assert len(_error_of(result, "test_uses_bus")) <= 9


def test_syntax_error_shows_the_file_the_line_and_the_code(project: pytest.Pytester) -> None:
    (project.path / "library" / "lending.py").write_text(
        "from messagebus import async_listen\n\n\n@async_listen\nasync def lend(cmd, uow:\n"
        "    pass\n"
    )
    result = _run(project, "library.lending")
    result.stdout.fnmatch_lines(
        [
            "messagebus_scan: cannot import 'library.lending':",
            '  File "*library*lending.py", line 5',
            "    async def lend(cmd, uow:",
            "*SyntaxError: *",
        ]
    )
    assert len(_error_of(result, "test_uses_bus")) <= 6


def test_module_listed_twice_is_named(project: pytest.Pytester) -> None:
    result = _run(project, "library.handlers\nlibrary.handlers")
    result.stdout.fnmatch_lines(
        [
            "messagebus_scan: 'library.handlers' is listed twice, and registers "
            "library.handlers.* for * twice.",
            "List each module once.",
        ]
    )
    assert len(_error_of(result, "test_uses_bus")) == 2


def test_package_and_its_module_both_listed_are_named(project: pytest.Pytester) -> None:
    (project.path / "library" / "sync_handlers.py").unlink()
    result = _run(project, "library\nlibrary.handlers")
    result.stdout.fnmatch_lines(
        [
            "messagebus_scan: 'library' and 'library.handlers' both register "
            "library.handlers.* for *: a scan includes the submodules of a package.",
            "List only one of 'library' and 'library.handlers'.",
        ]
    )


def test_two_handlers_of_one_command_are_named(project: pytest.Pytester) -> None:
    (project.path / "library" / "sync_again.py").write_text(
        "from messagebus import sync_listen\n"
        "from library.domain import RegisterBook\n\n\n"
        "@sync_listen\n"
        "def register_book_again(cmd: RegisterBook, uow):\n"
        "    pass\n"
    )
    result = _run(
        project, "library.sync_handlers\nlibrary.sync_again", option="messagebus_sync_scan"
    )
    result.stdout.fnmatch_lines(
        [
            "messagebus_sync_scan: command RegisterBook has two handlers: "
            "library.sync_handlers.register_book (scanned from 'library.sync_handlers') and "
            "library.sync_again.register_book_again (scanned from 'library.sync_again').",
            "A command has one handler: remove one of them.",
        ]
    )


def test_other_scan_errors_are_shown_as_messagebus_gives_them(project: pytest.Pytester) -> None:
    (project.path / "library" / "counting.py").write_text(
        "from messagebus import async_listen\n\n\n"
        "@async_listen\n"
        "async def count(number: int, uow):\n"
        "    pass\n"
    )
    result = _run(project, "library.counting")
    result.stdout.fnmatch_lines(
        [
            "messagebus_scan: cannot scan module 'library.counting': ConfigurationError: "
            "Invalid usage of the listen decorator: type <class 'int'> should be a command "
            "or an event"
        ]
    )
    assert len(_error_of(result, "test_uses_bus")) == 1
