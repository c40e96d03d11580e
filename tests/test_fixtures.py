"""The fixtures replace the hand-written conftest of the messagebus tutorial."""

from __future__ import annotations

import sys

import pytest

from conftest import ini_source

TUTORIAL_TEST = """
from uuid import UUID

from library.domain import Book, BookRegistered, RegisterBook

ID = UUID(int=1)
CMD = RegisterBook(id=ID, isbn="0-321-12521-5", title="Domain Driven Design", author="Eric Evans")


async def test_bus_handler(bus, uow, eventstore, transport):
    async with uow as transaction:
        book = await bus.handle(CMD, transaction)
        assert (await transaction.books.by_id(ID)) is book
        assert book.messages == []
        await transaction.commit()

    assert eventstore.messages == [
        CMD,
        BookRegistered(id=ID, isbn=CMD.isbn, title=CMD.title, author=CMD.author),
    ]
    assert [event["type"] for event in transport.events] == ["register_book_v1"]
    assert transport.events[0]["payload"] == CMD.model_dump_json(
        exclude={"message_id", "created_at", "metadata"}
    )


def test_sync_bus_handler(sync_bus, sync_uow, sync_eventstore, sync_transport):
    with sync_uow as transaction:
        sync_bus.handle(CMD, transaction)
        transaction.commit()
    assert [type(m).__name__ for m in sync_eventstore.messages] == [
        "RegisterBook",
        "BookRegistered",
    ]
    assert [event["type"] for event in sync_transport.events] == ["register_book_v1"]


async def test_next_test_starts_empty(uow, eventstore, transport, sync_eventstore):
    assert eventstore.messages == []
    assert sync_eventstore.messages == []
    assert transport.events == []
    assert uow.books.books == {}
"""


@pytest.mark.parametrize("mode", ["auto", "strict"])
def test_tutorial_test_passes_in_both_asyncio_modes(project: pytest.Pytester, mode: str) -> None:
    source = TUTORIAL_TEST
    if mode == "strict":
        source = "import pytest\npytestmark = pytest.mark.asyncio\n" + source
    project.makepyfile(test_tutorial=source)
    result = project.runpytest("-o", f"asyncio_mode={mode}", "-p", "no:randomly")
    result.assert_outcomes(passed=3)


def test_tutorial_test_passes_with_xdist(project: pytest.Pytester) -> None:
    project.makepyfile(test_tutorial=TUTORIAL_TEST)
    result = project.runpytest_subprocess("-n", "2", "-p", "no:randomly")
    result.assert_outcomes(passed=3)


def test_tutorial_test_passes_in_random_order(project: pytest.Pytester) -> None:
    # The emptiness check runs before and after the others across seeds.
    project.makepyfile(test_tutorial=TUTORIAL_TEST)
    for seed in ("1", "2", "3"):
        result = project.runpytest("-p", "randomly", f"--randomly-seed={seed}")
        result.assert_outcomes(passed=3)


def test_fixtures_build_from_the_classes_an_inner_run_imports(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An in-process run drops the modules it imported first when it ends; the
    # next one imports them anew, and the fixtures must build from those, even
    # while messagebus itself, imported before, stays.
    import messagebus  # noqa: F401

    for name in ("transport", "_classes"):
        monkeypatch.delitem(sys.modules, f"pytest_messagebus_eventstore.{name}", raising=False)
    project.makepyfile(
        """
        from pytest_messagebus_eventstore import InMemoryEventstreamTransport

        def test_transport(transport):
            assert isinstance(transport, InMemoryEventstreamTransport)
        """
    )
    for _ in range(2):
        project.runpytest_inprocess("-p", "no:randomly").assert_outcomes(passed=1)


def test_uow_wires_eventstore_transport_and_repositories(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        """
        from messagebus import AsyncEventstreamPublisher
        from pytest_messagebus_eventstore import (
            InMemoryEventstoreRepository,
            InMemoryEventstreamTransport,
            InMemoryUnitOfWork,
        )
        from conftest import FakeBookRepository

        def test_wiring(uow, eventstore, transport):
            assert isinstance(uow, InMemoryUnitOfWork)
            assert uow.eventstore is eventstore
            assert uow.messagestore is eventstore
            assert isinstance(eventstore, InMemoryEventstoreRepository)
            assert isinstance(eventstore.publisher, AsyncEventstreamPublisher)
            assert eventstore.publisher.transport is transport
            assert isinstance(transport, InMemoryEventstreamTransport)
            assert isinstance(uow.books, FakeBookRepository)
        """
    )
    project.runpytest().assert_outcomes(passed=1)


def test_the_bus_is_put_back_as_scanned_after_each_test(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        import pytest
        from library.domain import BookRegistered, RegisterBook

        calls = []
        seen = []

        async def spy(event: BookRegistered, uow):
            calls.append(event)

        def test_changes_its_bus(bus):
            seen.append(bus)
            bus.add_listener(BookRegistered, spy)
            assert len(bus.events_registry[BookRegistered]) == 1
            del bus.commands_registry[RegisterBook]
            bus.dependencies = {"notifier": object}
            bus.note = "left by the first test"

        def test_does_not_see_the_changes(bus):
            assert bus is seen[0]
            assert bus.events_registry[BookRegistered] == []
            assert len(bus.commands_registry) == 2
            assert dict(bus.dependencies) == {}
            assert not hasattr(bus, "note")

        def test_scanned_once(bus, request, monkeypatch):
            import pytest_messagebus_eventstore._scan as scan

            def fail(*args):
                raise AssertionError("scanned twice")

            monkeypatch.setattr(scan, "_scan", fail)
            again = scan.make_bus(request.config, "async", dict, "messagebus_dependencies")
            assert again is not bus
            assert again.commands_registry == bus.commands_registry
        """
    )
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=3)


def test_each_kind_of_change_to_the_bus_is_undone(project: pytest.Pytester) -> None:
    # A bus the test did not change is left as it is: each change alone must be seen.
    project.makepyfile(
        """
        import pytest
        from library.domain import BookRegistered, RegisterBook

        async def spy(event: BookRegistered, uow):
            pass

        CHANGES = {
            "add_listener": lambda bus: bus.add_listener(BookRegistered, spy),
            "event_list": lambda bus: bus.events_registry[BookRegistered].append(object()),
            "del_command": lambda bus: bus.commands_registry.pop(RegisterBook),
            "swap_command": lambda bus: bus.commands_registry.update(
                {RegisterBook: object()}
            ),
            "new_registry": lambda bus: setattr(bus, "commands_registry", {}),
            "dependencies": lambda bus: setattr(bus, "dependencies", {"n": object}),
            "attribute": lambda bus: setattr(bus, "note", 1),
        }

        @pytest.fixture(scope="module")
        def scanned(bus):
            return (
                dict(bus.commands_registry),
                {kind: list(hooks) for kind, hooks in bus.events_registry.items()},
            )

        # Each change, then its check.
        @pytest.mark.parametrize("step", ["change", "check"])
        @pytest.mark.parametrize("change", CHANGES)
        def test_bus(scanned, bus, step, change):
            if step == "change":
                CHANGES[change](bus)
                return
            commands, events = scanned
            assert bus.commands_registry == commands
            assert {kind: hooks for kind, hooks in bus.events_registry.items() if hooks} == {
                kind: hooks for kind, hooks in events.items() if hooks
            }
            assert dict(bus.dependencies) == {}
            assert not hasattr(bus, "note")
        """
    )
    result = project.runpytest("-p", "no:randomly", "-v")
    result.assert_outcomes(passed=14)
    result.stdout.fnmatch_lines(
        ["*test_bus[[]add_listener-change[]] PASSED*", "*test_bus[[]add_listener-check[]] PASSED*"]
    )


def test_bus_with_no_scanned_module_is_empty(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_empty(bus, sync_bus):
            assert bus.commands_registry == {}
            assert dict(bus.events_registry) == {}
            assert sync_bus.commands_registry == {}
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_async_and_sync_buses_keep_their_own_handlers(project: pytest.Pytester) -> None:
    # Until messagebus 0.16, async_listen and sync_listen share a venusian
    # category; one module with both kinds must still give each bus its own.
    (project.path / "library" / "mixed.py").write_text(
        "from library.handlers import *  # noqa\n"
        "from messagebus import async_listen, sync_listen\n"
        "from library.domain import RegisterBook, LendBook\n\n"
        "@async_listen\n"
        "async def a(cmd: RegisterBook, uow): return 'async'\n\n"
        "@sync_listen\n"
        "def s(cmd: RegisterBook, uow): return 'sync'\n\n"
        "@sync_listen\n"
        "def lend(cmd: LendBook, uow): return 'sync only'\n"
    )
    project.makepyfile(
        """
        from library.domain import LendBook, RegisterBook

        def test_split(bus, sync_bus):
            assert bus.commands_registry[RegisterBook].callback.__name__ == "a"
            assert LendBook not in bus.commands_registry
            assert sync_bus.commands_registry[RegisterBook].callback.__name__ == "s"
            assert sync_bus.commands_registry[LendBook].callback.__name__ == "lend"
        """
    )
    result = project.runpytest(
        "-o",
        "messagebus_scan=library.mixed",
        "-o",
        "messagebus_sync_scan=library.mixed",
    )
    result.assert_outcomes(passed=1)


def test_unimportable_scan_module_fails_only_the_tests_using_bus(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini(
        ini_source(
            """
            messagebus_scan =
                library.handlerz
            """
        )
    )
    pytester.makepyfile(
        """
        def test_uses_bus(bus):
            pass

        def test_uses_uow_only(uow):
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_uses_bus*",
            "messagebus_scan: no module named 'library.handlerz' (no module named 'library').",
            "Fix the module name in the messagebus_scan ini option, or make the module "
            "importable (e.g. with the pythonpath ini option).",
        ]
    )
    result.stdout.no_fnmatch_line("*Traceback*")
    result.stdout.no_fnmatch_line("*_scan.py*")


def test_relative_scan_module_is_refused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_uses_bus(sync_bus): pass")
    result = pytester.runpytest("-o", "messagebus_sync_scan=.handlers")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["messagebus_sync_scan: '.handlers' is a relative module name; list absolute *"]
    )


def test_report_header_shows_version_and_scanned_modules(
    project: pytest.Pytester,
) -> None:
    from importlib.metadata import version

    project.makepyfile("def test_nothing(): pass")
    result = project.runpytest()
    result.stdout.fnmatch_lines(
        [
            f"messagebus: {version('messagebus')}, scan: library.handlers, "
            "sync scan: library.sync_handlers"
        ]
    )


def test_fixtures_are_documented(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--fixtures")
    result.stdout.fnmatch_lines_random(
        [
            "transport -- *",
            "*in-memory eventstream transport*",
            "eventstore -- *",
            "messagebus_repositories -- *",
            "uow -- *",
            "bus [[]session scope[]] -- *",
            "sync_transport -- *",
            "sync_eventstore -- *",
            "messagebus_sync_repositories -- *",
            "sync_uow -- *",
            "sync_bus [[]session scope[]] -- *",
        ]
    )


def test_ini_options_have_help(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines_random(
        [
            "*messagebus_scan (linelist):*",
            "*messagebus_sync_scan (linelist):*",
        ]
    )


def test_plugin_can_be_disabled(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_uses_bus(bus): pass")
    result = pytester.runpytest("-p", "no:messagebus_eventstore")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'bus' not found*"])
