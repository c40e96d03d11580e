"""A forgotten ``await``: the coroutines of ``bus.handle``, ``messagebus_given`` and the like.

Such a coroutine never awaited handles nothing, and Python only warns about it
when it is garbage collected, after the test has passed. Each call records its
coroutine on the running test with its caller's code and instruction offset
(not the frame, which would keep the test's locals alive), a list append for
every handled command; the teardown walks the list and fails the test for the
coroutines that never started, named from their arguments.

This module must not import messagebus: the plugin imports it at start-up.
"""

from __future__ import annotations

import inspect
import os
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from ._state import running

if TYPE_CHECKING:
    from types import CodeType, FrameType

    from ._state import RunningTest


_CREATED = inspect.CORO_CREATED
_C = TypeVar("_C")


def where(config: pytest.Config | None, filename: str, line: int) -> str:
    """``path:line``, the path relative to the directory pytest was started in when below it."""
    if config is not None:
        start = str(config.invocation_params.dir)
        if filename.startswith(start + os.sep):
            filename = filename[len(start) + 1 :]
    return f"{filename}:{line}"


def record(coroutine: _C, caller: FrameType) -> _C:
    """``coroutine``, recorded on the running test with ``caller``'s place, for :func:`check`."""
    if running:
        running[-1].awaitables.append((coroutine, caller.f_code, caller.f_lasti))
    return coroutine


def _shown(argument: Any) -> str:
    return f"{type(argument).__name__}(...)"


def _call(coroutine: Any) -> str:
    """The call that made ``coroutine``, which never started: its arguments are its locals."""
    arguments = coroutine.cr_frame.f_locals
    # The given phase's ``arrange(bus, uow, commands, ...)``, the handle and
    # read fixtures' (``called_as`` their name), else messagebus's
    # ``handle(self, command, uow, ...)``.
    if "commands" in arguments:
        return f"messagebus_given({', '.join(map(_shown, arguments['commands']))})"
    called_as = arguments.get("called_as", "bus.handle")
    if "query" in arguments:
        return f"{called_as}(...)"
    return f"{called_as}({_shown(arguments['command'])})"


def _line(code: CodeType, offset: int) -> int:
    for start, end, line in code.co_lines():
        if start <= offset < end and line is not None:
            return line
    return code.co_firstlineno


def check(run: RunningTest) -> None:
    """Fail the test for each recorded coroutine that was never awaited, and close it."""
    __tracebackhide__ = True
    awaitables = run.awaitables
    if not awaitables:
        return
    forgotten = []
    for coroutine, code, offset in awaitables:
        # Finished (the usual case), or started: awaited, or run by a task.
        if coroutine.cr_frame is None or inspect.getcoroutinestate(coroutine) != _CREATED:
            continue
        place = where(run.item.config, code.co_filename, _line(code, offset))
        forgotten.append(f"  {place}: {_call(coroutine)}")
        # Closed, Python does not warn about it in addition.
        coroutine.close()
    awaitables.clear()
    if forgotten:
        pytest.fail(
            "\n".join(
                [
                    "messagebus: a call was never awaited, so it handled nothing:"
                    if len(forgotten) == 1
                    else f"messagebus: {len(forgotten)} calls were never awaited, so they "
                    "handled nothing:",
                    *forgotten,
                    "Add `await` before the call; a sync test uses sync_bus and "
                    "messagebus_sync_given.",
                ]
            ),
            pytrace=False,
        )
