"""Marker lookups cheap enough to make for every test."""

from __future__ import annotations

import pytest


def closest_marker(item: pytest.Item, name: str) -> pytest.Mark | None:
    """``item.get_closest_marker(name)``, at a fraction of its cost when there is none.

    A marker on the test, its class or its module is also one of its keywords:
    looking a name up among them costs a few dictionary lookups, where
    ``get_closest_marker`` walks every marker of every node above the test.
    """
    if name not in item.keywords:
        return None
    return item.get_closest_marker(name)


def functions_marked(items: list[pytest.Item], name: str) -> list[pytest.Function]:
    """The test functions among ``items`` that carry marker ``name``, or whose class or module does.

    Run at collection, over every test: the nodes above a test are looked up
    once for all the tests they hold, and a test is looked at closely only if
    it or a node above it has the marker.
    """
    marked_parents: dict[int, bool] = {}
    found: list[pytest.Function] = []
    for item in items:
        if not isinstance(item, pytest.Function):
            continue
        parent = item.parent
        marked = marked_parents.get(id(parent))
        if marked is None:
            marked = marked_parents[id(parent)] = parent is not None and name in parent.keywords
        if not marked:
            for mark in item.own_markers:
                if mark.name == name:
                    marked = True
                    break
        if marked and item.get_closest_marker(name) is not None:
            found.append(item)
    return found
