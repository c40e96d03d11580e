"""What the README states about messagebus and pytest-asyncio, checked against their behaviour."""

from __future__ import annotations

import textwrap

import pytest

# A listener of BookRegistered taking a dependency no test provides.
WELCOME_HANDLER = """

@async_listen
async def welcome_book(event: BookRegistered, uow, mailer) -> None:
    await mailer.send(event.title)
"""


def test_a_missing_dependency_is_a_runtime_error_with_the_readme_message(
    project: pytest.Pytester,
) -> None:
    handlers = project.path / "library" / "handlers.py"
    handlers.write_text(handlers.read_text() + WELCOME_HANDLER)
    project.makepyfile(
        test_missing=textwrap.dedent(
            """
            from uuid import UUID

            import messagebus
            import pytest

            from library.domain import RegisterBook

            CMD = RegisterBook(id=UUID(int=1), isbn="1", title="DDD", author="Eric Evans")


            def test_not_exported():
                assert not hasattr(messagebus, "MissingDependencyError")


            async def test_in_the_act(bus, uow):
                async with uow as transaction:
                    missing = "Missing messagebus dependency 'mailer'"
                    with pytest.raises(RuntimeError, match=missing):
                        await bus.handle(CMD, transaction)
                    await transaction.rollback()


            @pytest.mark.messagebus_given(CMD)
            async def test_in_the_given_phase(uow):
                pass
            """
        )
    )
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        ["*ERROR at setup of test_in_the_given_phase*", "*Missing messagebus dependency 'mailer'*"]
    )


ASYNC_TEST = """
from uuid import UUID

import pytest

from library.domain import RegisterBook
from pytest_messagebus_eventstore import assert_messages

{mark}

CMD = RegisterBook(id=UUID(int=1), isbn="0-321-12521-5", title="DDD", author="Eric Evans")


@pytest.mark.messagebus_given(CMD)
async def test_register(bus, uow, transport):
    async with uow as transaction:
        assert (await transaction.books.by_id(CMD.id)).title == "DDD"
        await transaction.rollback()
    assert_messages(uow, [])
"""


@pytest.mark.parametrize(
    ("mark", "outcome"),
    [("pytestmark = pytest.mark.asyncio", "passed"), ("", "not run")],
    ids=["marked", "unmarked"],
)
def test_asyncio_strict_mode_needs_the_module_marked_as_the_readme_says(
    project: pytest.Pytester, mark: str, outcome: str
) -> None:
    project.makepyfile(test_strict_asyncio=ASYNC_TEST.format(mark=mark))
    result = project.runpytest("-o", "asyncio_mode=strict", "-p", "no:randomly")
    if outcome == "passed":
        result.assert_outcomes(passed=1)
        return
    # Skipped with a warning before pytest 8.4, failed since.
    outcomes = result.parseoutcomes()
    assert outcomes.get("skipped", 0) + outcomes.get("failed", 0) == 1, outcomes
    result.stdout.fnmatch_lines(["*async def functions are not natively supported*"])
