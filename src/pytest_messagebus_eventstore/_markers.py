"""Marker lookups cheap enough to make for every test."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Collection


def marked_functions(
    items: list[pytest.Item], names: Collection[str]
) -> dict[str, list[pytest.Function]]:
    """For each marker name, the test functions that carry it, or whose class or module does.

    Run at collection, over every test: the nodes above a test are looked up
    once for all the tests they hold, and a test is looked at closely only for
    a marker that it or a node above it has. One pass serves every name.
    """
    found: dict[str, list[pytest.Function]] = {name: [] for name in names}
    # Test classes are abstract (pytest's nodes derive from ABC): an
    # isinstance check per test would cost more than the rest of the walk.
    is_function: dict[type, bool] = {}
    marked_above: dict[int, frozenset[str]] = {}
    for item in items:
        kind = type(item)
        function = is_function.get(kind)
        if function is None:
            function = is_function[kind] = issubclass(kind, pytest.Function)
        if not function:
            continue
        parent = item.parent
        candidates = marked_above.get(id(parent))
        if candidates is None:
            candidates = marked_above[id(parent)] = frozenset(
                name for name in names if parent is not None and name in parent.keywords
            )
        for mark in item.own_markers:
            if mark.name in found and mark.name not in candidates:
                candidates = candidates | {mark.name}
        for name in candidates:
            if item.get_closest_marker(name) is not None:
                found[name].append(item)  # type: ignore[arg-type]
    return found


def has_own_marker(item: pytest.Item, name: str) -> bool:
    """Whether ``item`` itself carries marker ``name`` (not its class or module)."""
    # A loop rather than any(): called for every test, and a generator costs a frame.
    for mark in item.own_markers:  # noqa: SIM110
        if mark.name == name:
            return True
    return False
