"""The pluggy hooks and the overridable dependency fixtures."""

from __future__ import annotations

import textwrap
from collections.abc import Callable

import pytest

HookedProject = Callable[[str], pytest.Pytester]


@pytest.fixture
def hooked(project: pytest.Pytester) -> HookedProject:
    """The library project, its conftest keeping the fakes but not the fixture overrides."""
    fakes = (project.path / "conftest.py").read_text().partition("@pytest.fixture")[0]

    def write(hooks: str) -> pytest.Pytester:
        project.makeconftest(fakes + textwrap.dedent(hooks))
        return project

    return write


REGISTER = """
from uuid import UUID

import pytest
from library.domain import RegisterBook

REGISTER = RegisterBook(id=UUID(int=1), isbn="1", title="T", author="A")
"""


def test_repositories_hooks_are_merged_the_nearest_winning(hooked: HookedProject) -> None:
    project = hooked(
        """
        def pytest_messagebus_repositories(config):
            return {"books": FakeBookRepository()}


        def pytest_messagebus_sync_repositories(config):
            return {"books": SyncFakeBookRepository()}
        """
    )
    project.makepyfile(
        other_plugin="""
        from library.repositories import AbstractBookRepository
        from pytest_messagebus_eventstore import InMemoryRepository

        class ArchiveRepository(InMemoryRepository, AbstractBookRepository):
            async def add(self, book): ...

            async def by_id(self, id): ...

        def pytest_messagebus_repositories(config):
            return {"books": ArchiveRepository(), "archive": ArchiveRepository()}
        """
    )
    project.makepyfile(
        test_root="""
        from conftest import FakeBookRepository, SyncFakeBookRepository

        def test_merged(uow, sync_uow, messagebus_repositories):
            assert type(uow.books) is FakeBookRepository
            assert type(uow.archive).__name__ == "ArchiveRepository"
            assert sorted(messagebus_repositories) == ["archive", "books"]
            assert type(sync_uow.books) is SyncFakeBookRepository
        """
    )
    sub = project.mkpydir("sub")
    (sub / "conftest.py").write_text(
        "from conftest import FakeBookRepository\n\n"
        "def pytest_messagebus_repositories(config):\n"
        "    return {'books': None, 'annex': FakeBookRepository()}\n"
    )
    (sub / "test_sub.py").write_text(
        "def test_sub_directory_hook(messagebus_repositories):\n"
        "    assert messagebus_repositories['books'] is None\n"
        "    assert sorted(messagebus_repositories) == ['annex', 'archive', 'books']\n"
    )
    # Importable for -p before the ini's pythonpath applies (pytest < 8.1).
    project.syspathinsert()
    result = project.runpytest("-p", "other_plugin")
    result.assert_outcomes(passed=2)


# Each implementation notes who called it: the plugin itself, or pluggy.
NOTED_HOOK = """
import sys

CALLERS = []


def pytest_messagebus_repositories(config):
    CALLERS.append(sys._getframe(1).f_globals["__name__"])
    return {"books": FakeBookRepository()}
"""

WRAPPER = """

# pytest registers only the functions named pytest_*.
@pytest.hookimpl(specname="pytest_messagebus_repositories", wrapper=True)
def pytest_messagebus_repositories_annex(config):
    results = yield
    return [*results, {"annex": FakeBookRepository()}]
"""


@pytest.mark.parametrize(
    ("case", "hooks", "args", "caller", "names"),
    [
        ("plain", NOTED_HOOK, (), "pytest_messagebus_eventstore.plugin", ["books"]),
        ("with a wrapper", NOTED_HOOK + WRAPPER, (), "pluggy", ["annex", "books"]),
        ("--debug", NOTED_HOOK, ("--debug",), "pluggy", ["books"]),
    ],
)
def test_hook_implementations_are_called_as_pluggy_calls_them(
    hooked: HookedProject,
    case: str,
    hooks: str,
    args: tuple[str, ...],
    caller: str,
    names: list[str],
) -> None:
    # Plain implementations are called by the plugin (pluggy's machinery costs
    # each test more than the call); wrappers, and tracing for --debug, need pluggy.
    project = hooked(hooks)
    project.makepyfile(
        test_called=f"""
        import conftest

        def test_called(uow, messagebus_repositories):
            assert sorted(messagebus_repositories) == {names!r}
            assert type(uow.books).__name__ == "FakeBookRepository"
            # pluggy's own module differs between its releases.
            assert [name.split(".")[0] for name in conftest.CALLERS] == [{caller.split(".")[0]!r}]
        """
    )
    result = project.runpytest("-p", "no:randomly", *args)
    result.assert_outcomes(passed=1)


def test_fixture_override_replaces_or_extends_the_hooks(hooked: HookedProject) -> None:
    project = hooked(
        """
        def pytest_messagebus_repositories(config):
            return {"books": FakeBookRepository()}
        """
    )
    project.makepyfile(
        test_override="""
        import pytest

        @pytest.fixture
        def messagebus_repositories():
            return {}

        def test_replaced(uow):
            assert not hasattr(uow, "books")
        """,
        test_extend="""
        import pytest
        from conftest import FakeBookRepository

        @pytest.fixture
        def messagebus_repositories(messagebus_repositories):
            return {**messagebus_repositories, "shelf": FakeBookRepository()}

        def test_extended(uow):
            assert isinstance(uow.books, FakeBookRepository)
            assert isinstance(uow.shelf, FakeBookRepository)
        """,
    )
    project.runpytest().assert_outcomes(passed=2)


CUSTOM_UOW = """
from messagebus import AsyncAbstractUnitOfWork, SyncAbstractUnitOfWork
from pytest_messagebus_eventstore._compat import STORE_ATTRIBUTE


class ProjectUnitOfWork(AsyncAbstractUnitOfWork):
    def __init__(self, store, books):
        setattr(self, STORE_ATTRIBUTE, store)
        self.books = books
        self.commits = 0

    async def commit(self):
        self.commits += 1

    async def rollback(self):
        pass


class SyncProjectUnitOfWork(SyncAbstractUnitOfWork):
    def __init__(self, store, books):
        setattr(self, STORE_ATTRIBUTE, store)
        self.books = books

    def commit(self):
        pass

    def rollback(self):
        pass


def pytest_messagebus_make_uow(eventstore, repositories, config):
    return ProjectUnitOfWork(eventstore, FakeBookRepository())


def pytest_messagebus_make_sync_uow(eventstore, repositories, config):
    return SyncProjectUnitOfWork(eventstore, SyncFakeBookRepository())
"""


def test_make_uow_hooks_give_the_project_unit_of_work(hooked: HookedProject) -> None:
    project = hooked(CUSTOM_UOW)
    project.makepyfile(
        REGISTER
        + """
from conftest import ProjectUnitOfWork, SyncProjectUnitOfWork


@pytest.mark.messagebus_given(REGISTER)
async def test_async(uow, eventstore, transport):
    assert isinstance(uow, ProjectUnitOfWork)
    assert uow.commits == 1
    assert list(uow.books.books) == [REGISTER.id]
    assert eventstore.messages == []
    assert transport.events == []


def test_sync(sync_bus, sync_uow, sync_eventstore):
    assert isinstance(sync_uow, SyncProjectUnitOfWork)
    with sync_uow as transaction:
        sync_bus.handle(REGISTER, transaction)
        transaction.commit()
    assert [type(m).__name__ for m in sync_eventstore.messages] == [
        "RegisterBook",
        "BookRegistered",
    ]
"""
    )
    project.runpytest().assert_outcomes(passed=2)


def test_make_transport_hooks_give_the_project_transport(hooked: HookedProject) -> None:
    project = hooked(
        """
        from messagebus import AsyncAbstractEventstreamTransport, SyncAbstractEventstreamTransport


        class QueueTransport(AsyncAbstractEventstreamTransport):
            def __init__(self):
                self.queue = []

            async def send_message_serialized(self, message):
                self.queue.append(message["type"])


        class SyncQueueTransport(SyncAbstractEventstreamTransport):
            def __init__(self):
                self.queue = []

            def send_message_serialized(self, message):
                self.queue.append(message["type"])


        def pytest_messagebus_repositories(config):
            return {"books": FakeBookRepository()}


        def pytest_messagebus_sync_repositories(config):
            return {"books": SyncFakeBookRepository()}


        def pytest_messagebus_make_transport(config):
            return QueueTransport()


        def pytest_messagebus_make_sync_transport(config):
            return SyncQueueTransport()
        """
    )
    project.makepyfile(
        REGISTER
        + """
@pytest.mark.messagebus_given(REGISTER)
async def test_given_with_a_transport_without_events(bus, uow, transport):
    assert type(transport).__name__ == "QueueTransport"
    assert transport.queue == ["register_book_v1"]


def test_sync(sync_bus, sync_uow, sync_transport):
    with sync_uow as transaction:
        sync_bus.handle(REGISTER, transaction)
        transaction.commit()
    assert sync_transport.queue == ["register_book_v1"]
"""
    )
    project.runpytest().assert_outcomes(passed=2)


SERIALIZERS = """
from messagebus import AbstractMessageSerializer


class NameSerializer(AbstractMessageSerializer):
    def serialize_message(self, message):
        return {"name": message.metadata.name}


class TypeSerializer(AbstractMessageSerializer):
    def serialize_message(self, message):
        return {"type": type(message).__name__}


def pytest_messagebus_make_serializer(config):
    return NameSerializer()
"""


def test_make_serializer_hook_serializes_for_both_publishers(project: pytest.Pytester) -> None:
    project.makeconftest((project.path / "conftest.py").read_text() + SERIALIZERS)
    project.makepyfile(
        REGISTER
        + """
from conftest import NameSerializer


async def test_async(bus, uow, eventstore, transport, messagebus_serializer):
    assert isinstance(messagebus_serializer, NameSerializer)
    assert eventstore.publisher.serializer is messagebus_serializer
    async with uow as transaction:
        await bus.handle(REGISTER, transaction)
        await transaction.commit()
    assert transport.events == [{"name": "register_book"}]


def test_sync(sync_eventstore, messagebus_serializer):
    assert sync_eventstore.publisher.serializer is messagebus_serializer
"""
    )
    project.runpytest().assert_outcomes(passed=2)


def test_serializer_fixture_override_wins_over_the_hook(project: pytest.Pytester) -> None:
    project.makeconftest((project.path / "conftest.py").read_text() + SERIALIZERS)
    project.makepyfile(
        test_override=REGISTER
        + """
from conftest import NameSerializer, TypeSerializer


class TestOverridden:
    @pytest.fixture
    def messagebus_serializer(self):
        return TypeSerializer()

    async def test_in_class(self, bus, uow, transport):
        async with uow as transaction:
            await bus.handle(REGISTER, transaction)
            await transaction.commit()
        assert transport.events == [{"type": "RegisterBook"}]

    def test_sync_in_class(self, sync_eventstore):
        assert isinstance(sync_eventstore.publisher.serializer, TypeSerializer)


def test_beside_the_class(eventstore):
    assert isinstance(eventstore.publisher.serializer, NameSerializer)
"""
    )
    project.runpytest().assert_outcomes(passed=3)


def test_default_serializer_is_messagebus_one(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from messagebus.service.eventstream import MessageSerializer

        def test_default(eventstore, messagebus_serializer):
            assert type(messagebus_serializer) is MessageSerializer
            assert eventstore.publisher.serializer is messagebus_serializer
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_misspelt_hook_is_reported(hooked: HookedProject) -> None:
    project = hooked(
        """
        def pytest_messagebus_repository(config):
            return {}
        """
    )
    project.makepyfile("def test_nothing(): pass")
    result = project.runpytest()
    assert result.ret != 0
    result.stdout.fnmatch_lines(
        ["*unknown hook 'pytest_messagebus_repository' in plugin *conftest.py*"]
    )


NOTIFY = """
from typing import ClassVar

from messagebus import AsyncDependency, SyncDependency, async_listen, sync_listen

from library.domain import BookRegistered


class Notifier(AsyncDependency):
    sent: ClassVar[list[str]] = []

    def notify(self, text):
        self.sent.append(text)

    async def on_after_commit(self):
        self.sent.append("committed")

    async def on_after_rollback(self):
        self.sent.append("rolled back")


class SyncNotifier(SyncDependency):
    sent: ClassVar[list[str]] = []

    def on_after_commit(self):
        self.sent.append("sync committed")

    def on_after_rollback(self):
        pass


@async_listen
async def notify_registered(event: BookRegistered, uow, notifier: Notifier) -> None:
    notifier.notify(f"registered {event.title}")


@sync_listen
def sync_notify_registered(event: BookRegistered, uow, notifier: SyncNotifier) -> None:
    notifier.sent.append(f"sync registered {event.title}")
"""


def test_dependencies_reach_the_handlers_and_the_given_phase(project: pytest.Pytester) -> None:
    (project.path / "library" / "notify.py").write_text(NOTIFY)
    project.makepyfile(
        REGISTER
        + """
from library.notify import Notifier, SyncNotifier


@pytest.fixture
def messagebus_dependencies():
    return {"notifier": Notifier}


@pytest.fixture
def messagebus_sync_dependencies():
    return {"notifier": SyncNotifier}


@pytest.mark.messagebus_given(REGISTER)
async def test_given_phase(bus):
    assert Notifier.sent == ["registered T", "committed"]


def test_sync_bus(sync_bus, sync_uow):
    with sync_uow as transaction:
        sync_bus.handle(REGISTER, transaction)
        transaction.commit()
    assert SyncNotifier.sent == ["sync registered T", "sync committed"]
"""
    )
    result = project.runpytest(
        "-o",
        "messagebus_scan=library.handlers\nlibrary.notify",
        "-o",
        "messagebus_sync_scan=library.sync_handlers\nlibrary.notify",
    )
    result.assert_outcomes(passed=2)


def test_dependencies_can_be_parametrized(project: pytest.Pytester) -> None:
    (project.path / "library" / "notify.py").write_text(NOTIFY)
    project.makepyfile(
        REGISTER
        + """
from library.notify import Notifier


# Named in the arguments: the bus does not depend on the fixture.
@pytest.mark.parametrize("messagebus_dependencies", [{"notifier": Notifier}])
@pytest.mark.messagebus_given(REGISTER)
async def test_given_phase(bus, messagebus_dependencies):
    assert Notifier.sent == ["registered T", "committed"]


async def test_without(bus):
    assert dict(bus.dependencies) == {}
"""
    )
    result = project.runpytest("-o", "messagebus_scan=library.handlers\nlibrary.notify")
    result.assert_outcomes(passed=2)


def test_missing_dependency_fails_the_given_phase(project: pytest.Pytester) -> None:
    (project.path / "library" / "notify.py").write_text(NOTIFY)
    project.makepyfile(
        REGISTER
        + """
@pytest.mark.messagebus_given(REGISTER)
async def test_given_phase(bus):
    pass
"""
    )
    result = project.runpytest("-o", "messagebus_scan=library.handlers\nlibrary.notify")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "messagebus_given marker: <RegisterBook *> raised MissingDependencyError: "
            "Missing messagebus dependency 'notifier'",
        ]
    )


def test_dependency_fixtures_are_documented(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--fixtures")
    result.stdout.fnmatch_lines_random(
        [
            "messagebus_dependencies -- *",
            "messagebus_sync_dependencies -- *",
            "messagebus_serializer -- *",
        ]
    )


def _error_of(result: pytest.RunResult, test: str) -> list[str]:
    """The lines of the error section of ``test``, between its header and the next one."""
    lines = result.stdout.lines
    start = next(i for i, line in enumerate(lines) if f"ERROR at setup of {test} " in line)
    end = next(
        i for i in range(start + 1, len(lines)) if lines[i].startswith(("___", "===", "---"))
    )
    # pytest 8.0 adds this line to a failure whose frames are all hidden.
    return [line for line in lines[start + 1 : end] if not line.startswith("All traceback")]


def test_repository_class_instead_of_instance_names_the_hook(hooked: HookedProject) -> None:
    project = hooked(
        """
        def pytest_messagebus_repositories(config):
            return {"books": FakeBookRepository}
        """
    )
    sub = project.mkpydir("sub")
    (sub / "conftest.py").write_text(
        "from conftest import SyncFakeBookRepository\n\n\n"
        "def pytest_messagebus_sync_repositories(config):\n"
        "    return {'books': SyncFakeBookRepository}\n"
    )
    (sub / "test_sync.py").write_text("def test_sync(sync_uow): pass\n")
    project.makepyfile("async def test_async(uow): pass")
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_async*",
            "uow: InMemoryUnitOfWork(books=...) expects a repository (an instance of "
            "AsyncAbstractRepository), got the class FakeBookRepository. "
            "Pass an instance: books=FakeBookRepository().",
            "The repository 'books' comes from pytest_messagebus_repositories in conftest.py:*.",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_sync*",
            "sync_uow: SyncInMemoryUnitOfWork(books=...) expects a repository *, got the class "
            "SyncFakeBookRepository. Pass an instance: books=SyncFakeBookRepository().",
            "The repository 'books' comes from pytest_messagebus_sync_repositories in "
            "sub/conftest.py:4.",
        ]
    )
    # Neither pytest-asyncio's source nor the plugin's: the two lines only.
    assert len(_error_of(result, "test_async")) == 2
    assert len(_error_of(result, "test_sync")) == 2


def test_repository_class_from_a_fixture_names_the_fixture(hooked: HookedProject) -> None:
    project = hooked("")
    project.makepyfile(
        test_override="""
        import pytest
        from conftest import FakeBookRepository


        @pytest.fixture
        def messagebus_repositories():
            return {"books": FakeBookRepository}


        async def test_override(uow):
            pass


        @pytest.mark.parametrize("messagebus_repositories", [{"books": FakeBookRepository}])
        async def test_parametrized(uow, messagebus_repositories):
            pass
        """
    )
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_override*",
            "uow: InMemoryUnitOfWork(books=...) expects a repository *",
            "The repository 'books' comes from the messagebus_repositories fixture in "
            "test_override.py:5.",
            "*ERROR at setup of test_parametrized*",
            "uow: InMemoryUnitOfWork(books=...) expects a repository *",
            "The repository 'books' comes from the parametrization of messagebus_repositories.",
        ]
    )


def test_repositories_that_are_not_a_mapping_name_their_source(hooked: HookedProject) -> None:
    project = hooked(
        """
        def pytest_messagebus_repositories(config):
            return [FakeBookRepository()]
        """
    )
    sub = project.mkpydir("sub")
    # A well-behaved implementation beside it is not blamed.
    (sub / "conftest.py").write_text("def pytest_messagebus_repositories(config):\n    return {}\n")
    (sub / "test_hooked.py").write_text("async def test_hooked(uow): pass\n")
    project.makepyfile(
        test_override="""
        import pytest
        from conftest import FakeBookRepository


        @pytest.fixture
        def messagebus_repositories():
            return [FakeBookRepository()]


        async def test_override(uow):
            pass
        """
    )
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_hooked*",
            "pytest_messagebus_repositories in conftest.py:* returned a list.",
            "Fix: return a mapping of attribute name to repository, e.g. "
            "{'books': BookRepository()}, or None.",
            "*ERROR at setup of test_override*",
            "uow: the messagebus_repositories fixture in test_override.py:5 returned a list.",
            "Fix: return a mapping of attribute name to repository, e.g. "
            "{'books': BookRepository()}.",
        ]
    )
    result.stdout.no_fnmatch_line("*dictionary update sequence*")
    assert len(_error_of(result, "test_hooked")) == 2


@pytest.mark.parametrize("name", ["eventstore", "messagestore"])
def test_repository_named_after_the_message_store_is_refused(
    hooked: HookedProject, name: str
) -> None:
    project = hooked(
        f"""
        def pytest_messagebus_repositories(config):
            return {{"{name}": FakeBookRepository()}}


        def pytest_messagebus_sync_repositories(config):
            return {{"books": SyncFakeBookRepository(), "{name}": SyncFakeBookRepository()}}
        """
    )
    project.makepyfile(
        """
        async def test_async(uow):
            pass


        def test_sync(sync_uow):
            pass
        """
    )
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_async*",
            f"uow: pytest_messagebus_repositories in conftest.py:* names a repository "
            f"'{name}', a name reserved for the message store (uow.{name}).",
            "Fix: give the repository another name.",
            "*ERROR at setup of test_sync*",
            f"sync_uow: pytest_messagebus_sync_repositories in conftest.py:* names a "
            f"repository '{name}', a name reserved for the message store (sync_uow.{name}).",
        ]
    )
    result.stdout.no_fnmatch_line("*multiple values*")
    result.stdout.no_fnmatch_line("*got both*")
    assert len(_error_of(result, "test_async")) == 2


# For each make hook: its fixture, a class the hook might return by mistake,
# an object of the wrong kind, and the kind the fixture needs.
MAKE_HOOKS = {
    "pytest_messagebus_make_uow": (
        "uow",
        "InMemoryUnitOfWork",
        "SyncInMemoryUnitOfWork()",
        "AsyncAbstractUnitOfWork",
    ),
    "pytest_messagebus_make_sync_uow": (
        "sync_uow",
        "SyncInMemoryUnitOfWork",
        "InMemoryUnitOfWork()",
        "SyncAbstractUnitOfWork",
    ),
    "pytest_messagebus_make_transport": (
        "transport",
        "InMemoryEventstreamTransport",
        "SyncInMemoryEventstreamTransport()",
        "AsyncAbstractEventstreamTransport",
    ),
    "pytest_messagebus_make_sync_transport": (
        "sync_transport",
        "SyncInMemoryEventstreamTransport",
        "InMemoryEventstreamTransport()",
        "SyncAbstractEventstreamTransport",
    ),
    "pytest_messagebus_make_serializer": (
        "messagebus_serializer",
        "MessageSerializer",
        "dict()",
        "AbstractMessageSerializer",
    ),
}

MAKE_IMPORTS = """
import pytest
from messagebus.service.eventstream import MessageSerializer
from pytest_messagebus_eventstore.transport import (
    InMemoryEventstreamTransport,
    SyncInMemoryEventstreamTransport,
)
from pytest_messagebus_eventstore.uow import InMemoryUnitOfWork, SyncInMemoryUnitOfWork
"""


@pytest.mark.parametrize("hook", MAKE_HOOKS)
def test_make_hook_results_are_checked_naming_the_hook(
    pytester: pytest.Pytester, hook: str
) -> None:
    fixture, cls, wrong, kind = MAKE_HOOKS[hook]
    arguments = "eventstore, repositories, config" if "uow" in hook else "config"
    for directory, returned in {"klass": cls, "wrong": wrong, "none": "None"}.items():
        (pytester.mkpydir(directory) / "conftest.py").write_text(
            f"{MAKE_IMPORTS}\n\n@pytest.hookimpl(tryfirst=True)\n"
            f"def {hook}({arguments}):\n    return {returned}\n"
        )
        (pytester.path / directory / f"test_{directory}.py").write_text(
            f"async def test_{directory}({fixture}):\n    pass\n"
        )
    result = pytester.runpytest("-p", "no:randomly", "-o", "asyncio_mode=auto")
    # None: the plugin's own piece.
    result.assert_outcomes(passed=1, errors=2)
    article = "an" if kind[0] == "A" else "a"
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_klass*",
            f"{fixture}: {hook} in klass/conftest.py:11 returned the class {cls}, "
            f"not {article} {kind}.",
            f"Fix: return an instance, {cls}(...), or None to leave it to the plugin.",
            "*ERROR at setup of test_wrong*",
            f"{fixture}: {hook} in wrong/conftest.py:11 returned a* {wrong[:-2]}, "
            f"not {article} {kind}.",
            f"Fix: return an instance of a subclass of messagebus's {kind}, or None to "
            "leave it to the plugin.",
        ]
    )
    assert len(_error_of(result, "test_klass")) == 2
    assert len(_error_of(result, "test_wrong")) == 2


def test_project_unit_of_work_over_the_plugin_store_keeps_what_it_commits(
    hooked: HookedProject,
) -> None:
    # The store is transactional under an InMemoryUnitOfWork only: under a
    # project's unit of work, a rollback must still take its messages out.
    project = hooked(CUSTOM_UOW)
    project.makepyfile(
        REGISTER
        + """
from pytest_messagebus_eventstore import assert_messages, recorded_messages

OTHER = RegisterBook(id=UUID(int=2), isbn="2", title="U", author="B")


async def test_rolled_back_then_committed(bus, uow, eventstore, transport):
    async with uow as transaction:
        await bus.handle(REGISTER, transaction)
        await transaction.rollback()
    assert_messages(uow, [])
    assert eventstore.messages == []
    async with uow as transaction:
        await bus.handle(OTHER, transaction)
        await transaction.commit()
    assert [message.id for message in eventstore.messages] == [OTHER.id, OTHER.id]
    # The rolled back messages are not streamed with the next commit either.
    assert len(transport.events) == 1


async def test_added_after_the_commit(bus, uow, eventstore):
    async with uow as transaction:
        await bus.handle(REGISTER, transaction)
        await transaction.commit()
        # Committed already: what the block adds now is stored at once, and
        # stays, as the commit does.
        await bus.handle(OTHER, transaction)
        await transaction.rollback()
    assert len(eventstore.messages) == 4
    assert eventstore.messages == recorded_messages(uow)


async def test_raising_block(bus, uow, eventstore):
    with pytest.raises(ZeroDivisionError):
        async with uow as transaction:
            await bus.handle(REGISTER, transaction)
            1 / 0
    assert_messages(eventstore, [])


def test_sync(sync_bus, sync_uow, sync_eventstore):
    with sync_uow as transaction:
        sync_bus.handle(REGISTER, transaction)
        transaction.rollback()
    assert_messages(sync_uow, [])


async def test_block_left_open(bus, uow, eventstore):
    # messagebus refuses the block and calls no listener: the messages go all the same.
    with pytest.raises(RuntimeError, match="explicitly close"):
        async with uow as transaction:
            await bus.handle(REGISTER, transaction)
    assert_messages(eventstore, [])
    assert recorded_messages(uow) == []


async def test_report_agrees(bus, uow):
    async with uow as transaction:
        await bus.handle(REGISTER, transaction)
        await transaction.rollback()
    async with uow as transaction:
        await bus.handle(OTHER, transaction)
        await transaction.commit()
    assert_messages(uow, [])
"""
    )
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=5, failed=1)
    result.stdout.fnmatch_lines(
        [
            "E * expected 0 messages, recorded 2",
            "E       Recorded messages:",
            "E         [[]0[]] RegisterBook(id=UUID('*-000000000002'), *)  <- extra",
            "E         [[]1[]] BookRegistered(id=UUID('*-000000000002'), *)  <- extra",
            "*messagebus eventstore*",
            "Messages recorded (4), in order:",
            "  [[]0[]] rolled back  RegisterBook(id=UUID('*-000000000001'), *)",
            "  [[]1[]] rolled back  BookRegistered(id=UUID('*-000000000001'), *)",
            "  [[]2[]] committed    RegisterBook(id=UUID('*-000000000002'), *)",
            "  [[]3[]] committed    BookRegistered(id=UUID('*-000000000002'), *)",
        ]
    )
