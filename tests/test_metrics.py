"""The metrics store of the units of work, the messagebus_metrics fixture and its hook."""

from __future__ import annotations

import textwrap
from importlib.metadata import version

import pytest
from packaging.version import Version

HAS_METRICS = Version(version("messagebus")) >= Version("0.14")
needs_metrics = pytest.mark.skipif(not HAS_METRICS, reason="messagebus < 0.14 has no metrics")
without_metrics = pytest.mark.skipif(HAS_METRICS, reason="messagebus >= 0.14 has metrics")

# The inner tests import from the submodules (see test_uow_arguments).
COMMANDS = """
from uuid import UUID

import pytest
from library.domain import BookRegistered, LendBook, RegisterBook

REGISTER = RegisterBook(id=UUID(int=1), isbn="1", title="T", author="A")
"""


def _run(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.runpytest("-p", "no:randomly", *args)


@needs_metrics
def test_transactions_are_counted_by_status_and_rollbacks_stay_counted(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        COMMANDS
        + """
async def test_statuses(uow, messagebus_metrics):
    assert uow.metrics_store is messagebus_metrics
    assert messagebus_metrics.transactions == {}
    async with uow as transaction:
        await transaction.commit()
    assert messagebus_metrics.transactions == {"begun": 1, "committed": 1}
    async with uow as transaction:
        assert messagebus_metrics.in_progress == 1
        await transaction.rollback()
    with pytest.raises(ZeroDivisionError):
        async with uow as transaction:
            1 / 0
    assert messagebus_metrics.transactions == {
        "begun": 3, "committed": 1, "rolled back": 2, "failed": 1
    }
    assert messagebus_metrics.transactions["failed"] == 1
    assert messagebus_metrics.in_progress == 0
    before = messagebus_metrics.transactions
    async with uow as transaction:
        await transaction.commit()
    assert messagebus_metrics.transactions - before == {"begun": 1, "committed": 1}
"""
    )
    _run(project).assert_outcomes(passed=1)


@needs_metrics
def test_messages_and_processing_times_by_class_name_and_version(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        COMMANDS
        + """
async def test_processed(bus, uow, messagebus_metrics):
    async with uow as transaction:
        await bus.handle(REGISTER, transaction)
        await transaction.commit()
    metrics = messagebus_metrics
    assert metrics.messages_processed == {("register_book", 1): 1, ("book_registered", 1): 1}
    assert metrics.processed(RegisterBook) == 1
    assert metrics.processed(REGISTER) == 1
    assert metrics.processed(BookRegistered) == 1
    assert metrics.processed("book_registered") == 1
    assert metrics.processed("book_registered", version=1) == 1
    assert metrics.processed("book_registered", version=2) == 0
    assert metrics.processed(LendBook) == 0
    [seconds] = metrics.processing_times(RegisterBook)
    assert 0 < seconds < 10
    assert metrics.processing_times("register_book") == [seconds]
    assert metrics.processing_times(REGISTER) == [seconds]
    assert metrics.processing_times("register_book", version=2) == []
    assert metrics.processing_seconds == {("register_book", 1): [seconds]}
    # An event is not timed: messagebus times the command it handles.
    assert metrics.processing_times(BookRegistered) == []


async def test_failing_command_is_timed_and_failed(bus, uow, messagebus_metrics):
    with pytest.raises(ValueError):
        async with uow as transaction:
            await bus.handle(REGISTER, transaction)
            await bus.handle(LendBook(id=REGISTER.id, to="nobody"), transaction)
    assert messagebus_metrics.transactions == {"begun": 1, "failed": 1, "rolled back": 1}
    assert messagebus_metrics.processed(LendBook) == 1
    assert len(messagebus_metrics.processing_times(LendBook)) == 1
    assert repr(messagebus_metrics) == (
        "<InMemoryMetricsStore transactions: begun 1, failed 1, rolled back 1; "
        "processed: register_book v1 1, book_registered v1 1, lend_book v1 1>"
    )
"""
    )
    _run(project).assert_outcomes(passed=2)


@needs_metrics
def test_sync_flavour_shares_the_test_store(project: pytest.Pytester) -> None:
    project.makepyfile(
        COMMANDS
        + """
async def test_both(sync_bus, sync_uow, uow, messagebus_metrics):
    assert sync_uow.metrics_store is uow.metrics_store is messagebus_metrics
    with sync_uow as transaction:
        sync_bus.handle(REGISTER, transaction)
        transaction.commit()
    async with uow as transaction:
        await transaction.rollback()
    assert messagebus_metrics.transactions == {"begun": 2, "committed": 1, "rolled back": 1}
    assert messagebus_metrics.processed(RegisterBook) == 1
    assert len(messagebus_metrics.processing_times(RegisterBook)) == 1


def test_sync_alone(sync_uow, messagebus_metrics):
    with sync_uow as transaction:
        transaction.commit()
    assert sync_uow.metrics_store.transactions == {"begun": 1, "committed": 1}
"""
    )
    _run(project).assert_outcomes(passed=2)


@needs_metrics
def test_a_test_that_reads_no_metrics_counts_nothing(project: pytest.Pytester) -> None:
    project.makepyfile(
        COMMANDS
        + """
from messagebus import AsyncAbstractUnitOfWork, SyncAbstractUnitOfWork

from pytest_messagebus_eventstore.metrics import InMemoryMetricsStore


@pytest.fixture
def metrics_reader(messagebus_metrics):
    return messagebus_metrics


async def test_no_metrics(bus, uow, sync_uow):
    # messagebus's own: what a hand-written unit of work has.
    assert uow.metrics_store is AsyncAbstractUnitOfWork.metrics_store
    assert sync_uow.metrics_store is SyncAbstractUnitOfWork.metrics_store
    assert "metrics_store" not in vars(uow)
    async with uow as transaction:
        await bus.handle(REGISTER, transaction)
        await transaction.commit()


async def test_through_a_fixture(uow, metrics_reader):
    assert uow.metrics_store is metrics_reader
    assert isinstance(metrics_reader, InMemoryMetricsStore)


async def test_late_request(uow, request):
    request.getfixturevalue("messagebus_metrics")
"""
    )
    result = _run(project)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "messagebus_metrics: requested once the test's units of work were made, with "
            "messagebus's own metrics store: they count into the test's store only when the "
            "test asks for it from the start.",
            "Fix: list messagebus_metrics among the arguments of the test, or of one of its "
            "fixtures, rather than through request.getfixturevalue().",
        ]
    )


@needs_metrics
@pytest.mark.parametrize("order", ["first, second", "second, first"])
def test_each_test_starts_from_a_fresh_store(project: pytest.Pytester, order: str) -> None:
    test = """
from library.domain import RegisterBook
from test_first import REGISTER

async def test_{name}(bus, uow, messagebus_metrics):
    assert messagebus_metrics.transactions == {{}}
    async with uow as transaction:
        await bus.handle(REGISTER, transaction)
        await transaction.commit()
    assert messagebus_metrics.transactions == {{"begun": 1, "committed": 1}}
    assert messagebus_metrics.processed(RegisterBook) == 1
    assert len(messagebus_metrics.processing_times(RegisterBook)) == 1
"""
    project.makepyfile(
        test_first=COMMANDS + test.format(name="first").replace("from test_first import", "#"),
        test_second=test.format(name="second"),
    )
    files = [f"test_{name}.py" for name in order.split(", ")]
    result = _run(project, "-v", *files)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([f"{files[0]}::* PASSED*", f"{files[1]}::* PASSED*"])


@needs_metrics
def test_each_hypothesis_example_starts_from_no_count(project: pytest.Pytester) -> None:
    project.makepyfile(
        COMMANDS
        + """
from hypothesis import HealthCheck, given, settings, strategies


@settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(strategies.integers(min_value=1, max_value=1000))
async def test_examples(bus, uow, messagebus_metrics, n):
    command = RegisterBook(id=UUID(int=n), isbn=str(n), title="T", author="A")
    async with uow as transaction:
        await bus.handle(command, transaction)
        await transaction.commit()
    assert messagebus_metrics.transactions == {"begun": 1, "committed": 1}
    assert messagebus_metrics.processed(RegisterBook) == 1
    assert len(messagebus_metrics.processing_times(RegisterBook)) == 1
"""
    )
    _run(project).assert_outcomes(passed=1)


CUSTOM_STORE = """
from pytest_messagebus_eventstore.metrics import InMemoryMetricsStore

made = []


class ProjectMetricsStore(InMemoryMetricsStore):
    pass


def pytest_messagebus_make_metrics_store(config):
    made.append(ProjectMetricsStore())
    return made[-1]
"""


@needs_metrics
def test_make_metrics_store_hook_gives_the_test_store(project: pytest.Pytester) -> None:
    conftest = project.path / "conftest.py"
    conftest.write_text(conftest.read_text() + textwrap.dedent(CUSTOM_STORE))
    project.makepyfile(
        COMMANDS
        + """
from conftest import ProjectMetricsStore, made


async def test_hooked(bus, uow, sync_uow, messagebus_metrics):
    assert type(messagebus_metrics) is ProjectMetricsStore
    assert made == [messagebus_metrics]
    assert uow.metrics_store is sync_uow.metrics_store is messagebus_metrics
    async with uow as transaction:
        await bus.handle(REGISTER, transaction)
        await transaction.commit()
    assert messagebus_metrics.processed(RegisterBook) == 1


async def test_made_once_per_test(uow, sync_uow, messagebus_metrics):
    assert len(made) == 2
    assert made[-1] is messagebus_metrics is uow.metrics_store
"""
    )
    _run(project).assert_outcomes(passed=2)


@needs_metrics
def test_make_uow_hook_receives_the_test_store(project: pytest.Pytester) -> None:
    conftest = project.path / "conftest.py"
    conftest.write_text(
        conftest.read_text()
        + textwrap.dedent(
            """
            from pytest_messagebus_eventstore.uow import InMemoryUnitOfWork

            def pytest_messagebus_make_uow(eventstore, repositories, metrics_store):
                uow = InMemoryUnitOfWork(eventstore, **repositories)
                uow.own_store = uow.metrics_store
                uow.metrics_store = metrics_store
                return uow
            """
        )
    )
    project.makepyfile(
        """
        async def test_attached(uow, messagebus_metrics):
            assert uow.metrics_store is messagebus_metrics
            assert uow.own_store is not messagebus_metrics
            async with uow as transaction:
                await transaction.commit()
            assert messagebus_metrics.transactions == {"begun": 1, "committed": 1}
            # Not the store messagebus gives a unit of work by default.
            assert not hasattr(uow.own_store, "transactions")
        """
    )
    _run(project).assert_outcomes(passed=1)


@needs_metrics
def test_wrong_make_metrics_store_results_name_the_hook(pytester: pytest.Pytester) -> None:
    imports = "from pytest_messagebus_eventstore.metrics import InMemoryMetricsStore\n"
    for directory, returned in {"klass": "InMemoryMetricsStore", "wrong": "{}"}.items():
        (pytester.mkpydir(directory) / "conftest.py").write_text(
            f"{imports}\n\ndef pytest_messagebus_make_metrics_store(config):\n"
            f"    return {returned}\n"
        )
        (pytester.path / directory / f"test_{directory}.py").write_text(
            f"def test_{directory}(sync_uow):\n    pass\n"
        )
    result = _run(pytester)
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_klass*",
            "messagebus_metrics: pytest_messagebus_make_metrics_store in klass/conftest.py:4 "
            "returned the class InMemoryMetricsStore, not an AbstractMetricsStore.",
            "Fix: return an instance, InMemoryMetricsStore(...), or None to leave it to the "
            "plugin.",
            "*ERROR at setup of test_wrong*",
            "messagebus_metrics: pytest_messagebus_make_metrics_store in wrong/conftest.py:4 "
            "returned a dict, not an AbstractMetricsStore.",
            "Fix: return an instance of a subclass of messagebus's AbstractMetricsStore, or "
            "None to leave it to the plugin.",
        ]
    )


@needs_metrics
def test_constructor_takes_a_metrics_store_or_a_fresh_one(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        from pytest_messagebus_eventstore.metrics import InMemoryMetricsStore
        from pytest_messagebus_eventstore.uow import InMemoryUnitOfWork, SyncInMemoryUnitOfWork
        from conftest import FakeBookRepository

        async def test_given_store_counts():
            store = InMemoryMetricsStore()
            uow = InMemoryUnitOfWork(metrics_store=store, books=FakeBookRepository())
            assert uow.metrics_store is store
            assert list(uow._iter_repositories()) == [uow.books]
            async with uow as transaction:
                await transaction.commit()
            assert store.transactions == {"begun": 1, "committed": 1}

        def test_without_a_store_messagebus_s_own():
            from messagebus import SyncAbstractUnitOfWork

            uow = SyncInMemoryUnitOfWork()
            assert uow.metrics_store is SyncAbstractUnitOfWork.metrics_store
            assert repr(InMemoryMetricsStore()) == "<InMemoryMetricsStore: nothing counted>"

        def test_not_a_store():
            InMemoryUnitOfWork(metrics_store=42)

        def test_class_instead_of_instance():
            SyncInMemoryUnitOfWork(metrics_store=InMemoryMetricsStore)

        def test_repository_as_store():
            InMemoryUnitOfWork(metrics_store=FakeBookRepository())
        """
    )
    result = _run(project)
    result.assert_outcomes(passed=2, failed=3)
    result.stdout.fnmatch_lines_random(
        [
            "E * TypeError: InMemoryUnitOfWork(metrics_store=...) expects a metrics store "
            "(an instance of messagebus's AbstractMetricsStore), got int 42.",
            "E * TypeError: SyncInMemoryUnitOfWork(metrics_store=...) expects a metrics store "
            "(an instance of messagebus's AbstractMetricsStore), got the class "
            "InMemoryMetricsStore. Pass an instance: metrics_store=InMemoryMetricsStore().",
            "E * TypeError: InMemoryUnitOfWork(metrics_store=...) got the repository "
            "FakeBookRepository: metrics_store is reserved for the metrics store; give the "
            "repository another name.",
        ]
    )


@needs_metrics
def test_repository_named_metrics_store_is_refused(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        import pytest
        from conftest import FakeBookRepository

        @pytest.fixture
        def messagebus_repositories():
            return {"metrics_store": FakeBookRepository()}

        async def test_clash(uow):
            pass
        """
    )
    result = _run(project)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "uow: InMemoryUnitOfWork(metrics_store=...) clashes with "
            "InMemoryUnitOfWork.metrics_store; give the repository another name.",
            "The repository 'metrics_store' comes from the messagebus_repositories fixture "
            "in test_repository_named_metrics_store_is_refused.py:4.",
        ]
    )


@needs_metrics
def test_wrong_arguments_of_the_readers_say_what_to_pass(project: pytest.Pytester) -> None:
    project.makepyfile(
        COMMANDS
        + """
from messagebus import Command
from pytest_messagebus_eventstore.metrics import InMemoryMetricsStore

class Bare(Command):
    pass


@pytest.mark.parametrize("args", [(42,), (int,), (Bare,), (RegisterBook, 1), (REGISTER, 1)])
def test_processed(args):
    InMemoryMetricsStore().processed(*args)


def test_processing_times():
    InMemoryMetricsStore().processing_times(object())
"""
    )
    result = _run(project)
    result.assert_outcomes(failed=6)
    result.stdout.fnmatch_lines_random(
        [
            "E * TypeError: processed() expects a message class, a message or a message "
            "name, got an int.",
            "E * TypeError: processed() expects a message class, a message or a message "
            "name, got the class int.",
            "E * TypeError: processed(Bare): the class declares no default metadata; pass "
            "the message name instead, processed('name').",
            "E * TypeError: processed(RegisterBook, version=1): a message class or instance "
            "has its version (1); give version= with a message name: "
            "processed('register_book', version=1).",
            "E * TypeError: processed(RegisterBook(...), version=1): a message class or "
            "instance has its version (1); give version= with a message name: "
            "processed('register_book', version=1).",
            "E * TypeError: processing_times() expects a message class, a message or a "
            "message name, got an object.",
        ]
    )


@without_metrics
def test_before_0_14_the_fixture_says_metrics_need_0_14(project: pytest.Pytester) -> None:
    installed = version("messagebus")
    project.makepyfile(
        """
        import pytest
        from pytest_messagebus_eventstore.eventstore import InMemoryEventstoreRepository
        from pytest_messagebus_eventstore.uow import InMemoryUnitOfWork

        def test_fixture(uow, messagebus_metrics):
            pass

        async def test_units_of_work_work_without(uow, sync_uow):
            assert not hasattr(uow, "metrics_store")
            async with uow as transaction:
                await transaction.commit()

        def test_constructor():
            InMemoryUnitOfWork(metrics_store=InMemoryEventstoreRepository())

        def test_import():
            with pytest.raises(ImportError) as error:
                from pytest_messagebus_eventstore.metrics import InMemoryMetricsStore
            assert str(error.value) == (
                "InMemoryMetricsStore needs messagebus 0.14 or later (this is INSTALLED)"
            )
        """.replace("INSTALLED", installed)
    )
    result = _run(project)
    result.assert_outcomes(passed=2, failed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_fixture*",
            f"messagebus_metrics: metrics need messagebus 0.14 or later (this is {installed}).",
            "Fix: upgrade messagebus (pip install 'messagebus>=0.14'), or skip this test on "
            "older versions.",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            f"E * TypeError: InMemoryUnitOfWork(metrics_store=...): metrics need messagebus "
            f"0.14 or later (this is {installed}).",
        ]
    )
