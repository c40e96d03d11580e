"""Marker lookups cheap enough to make for every test."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
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
