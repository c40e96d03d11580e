"""Properties of a transaction over nested data, checked by hypothesis.

Whatever a transaction does to rows nested at any depth (lists, dicts, sets,
dataclasses with and without slots, one object reachable twice), a rollback
leaves the shared store as it was, and a commit leaves it as the transaction
saw it last, with the rows that were there kept as the same objects.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, ClassVar

from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_messagebus_eventstore import _stores, _transactions
from pytest_messagebus_eventstore.repository import InMemoryRepository


@dataclass
class Node:
    tag: int
    children: list[Any] = field(default_factory=list)


@dataclass(slots=True)
class Slotted:
    value: Any


class Table(InMemoryRepository):
    rows: ClassVar[dict[str, Any]] = {}


leaves = st.integers(-3, 3) | st.text("ab", max_size=2) | st.none()
values = st.recursive(
    leaves,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text("xyz", min_size=1, max_size=1), children, max_size=3)
        | st.builds(Node, st.integers(0, 9), st.lists(children, max_size=3))
        | st.builds(Slotted, children)
        | st.sets(st.integers(0, 5), max_size=3)
    ),
    max_leaves=12,
)
# A step: where to go (indices taken modulo what is there), then what to do.
steps = st.lists(
    st.tuples(
        st.lists(st.integers(0, 5), max_size=4),
        st.sampled_from(["append", "set", "delete", "replace", "tag", "share"]),
        values,
    ),
    max_size=8,
)


def normal(value: Any, seen: frozenset[int] = frozenset()) -> Any:
    """A comparable form of ``value`` (objects by their fields)."""
    if id(value) in seen:
        return ("cycle",)
    seen = seen | {id(value)}
    if isinstance(value, Node):
        return ("node", value.tag, normal(value.children, seen))
    if isinstance(value, Slotted):
        return ("slotted", normal(value.value, seen))
    if isinstance(value, (dict, _transactions.MappingView)):
        return ("dict", tuple(sorted((k, normal(v, seen)) for k, v in value.items())))
    if isinstance(value, (list, _transactions.SequenceView)):
        return ("list", tuple(normal(v, seen) for v in value))
    if isinstance(value, (set, frozenset)):
        return ("set", frozenset(value))
    return value


def children_of(value: Any) -> list[tuple[Any, Any]]:
    """(container, key) pairs under ``value`` that a step can go into."""
    if isinstance(value, Node):
        return [(value.children, index) for index in range(len(value.children))]
    if isinstance(value, Slotted):
        return [(value, "value")]
    if isinstance(value, (dict, _transactions.MappingView)):
        return [(value, key) for key in sorted(value)]
    if isinstance(value, (list, _transactions.SequenceView)):
        return [(value, index) for index in range(len(value))]
    return []


def get(container: Any, key: Any) -> Any:
    return getattr(container, key) if isinstance(container, Slotted) else container[key]


def apply(root: Any, path: list[int], action: str, value: Any, shared: list[Any]) -> None:
    target = root
    for index in path:
        options = children_of(target)
        if not options:
            break
        container, key = options[index % len(options)]
        inner = get(container, key)
        if not children_of(inner) and not isinstance(inner, (list, dict, set, Node, Slotted)):
            break
        target = inner
    value = copy.deepcopy(value)
    if action == "share" and shared:
        value = shared[0]  # one object reachable from two places
    if isinstance(target, Node):
        if action == "tag":
            target.tag += 1
        else:
            target.children.append(value)
    elif isinstance(target, Slotted):
        target.value = value
    elif isinstance(target, (dict, _transactions.MappingView)):
        keys = sorted(target)
        if action == "delete" and keys:
            del target[keys[0]]
        else:
            target[f"k{len(keys)}"] = value
    elif isinstance(target, (list, _transactions.SequenceView)):
        if action == "delete" and len(target):
            del target[0]
        elif action == "replace" and len(target):
            target[0] = value
        else:
            target.append(value)
    elif isinstance(target, set):
        target.add(len(target))
    if not isinstance(value, (int, str, type(None))):
        shared.append(value)


@settings(max_examples=300, deadline=None)
@given(
    rows=st.dictionaries(st.text("ab", min_size=1, max_size=2), values, max_size=4),
    program=steps,
    commit=st.booleans(),
)
def test_rollback_restores_and_commit_keeps_at_any_depth(
    rows: dict[str, Any], program: list[Any], commit: bool
) -> None:
    _stores.reset_class_level_stores()
    Table.rows.update(rows)
    before = normal(Table.rows)
    objects = dict(Table.rows)
    transaction = _transactions.Transaction()
    try:
        view = Table.rows
        assert isinstance(view, _transactions.MappingView)
        shared: list[Any] = []
        for path, action, value in program:
            apply(view, path, action, value, shared)
        seen = normal(view)
        if commit:
            transaction.commit()
        else:
            transaction.rollback()
    finally:
        transaction.close()
    assert normal(Table.rows) == (seen if commit else before)
    for key, obj in objects.items():
        if key in Table.rows:
            assert Table.rows[key] is obj
    _stores.reset_class_level_stores()
