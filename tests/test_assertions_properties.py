"""assert_messages agrees with ``Message.__eq__``; wrong arguments raise TypeError."""

from __future__ import annotations

import itertools
from typing import Any
from unittest.mock import ANY

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from messagebus import Event, Message, Metadata

from pytest_messagebus_eventstore import assert_messages, like
from pytest_messagebus_eventstore.assertions import Like


class Sample(Event):
    value: Any = None
    metadata: Metadata = Metadata(name="sample", schema_version=1)


class Other(Event):
    value: Any = None
    metadata: Metadata = Metadata(name="other", schema_version=1)


class SampleTwin(Event):
    """Another class with the same content as Sample: equal messages for ``==``."""

    value: Any = None
    metadata: Metadata = Metadata(name="sample", schema_version=1)


# 1 and 1.0 (and True) are equal, so are dicts in another order: the leaves and
# containers below produce such pairs often.
leaves = st.sampled_from([0, 1, 1.0, True, 2, 2.5, "a", None])
values = st.recursive(
    leaves,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from("xyz"), children, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def message(draw: st.DrawFn) -> Message[Any]:
    cls = draw(st.sampled_from([Sample, Other, SampleTwin]))
    return cls(value=draw(values))  # type: ignore[no-any-return]


def variant(value: Any, flip: bool) -> Any:
    """An equal value written differently: dicts reversed, 1 and 1.0 swapped."""
    if isinstance(value, dict):
        return {k: variant(v, flip) for k, v in reversed(value.items())}
    if isinstance(value, list):
        return [variant(v, flip) for v in value]
    if flip and type(value) is int:
        return float(value)
    if flip and type(value) is float and value.is_integer():
        return int(value)
    return value


@st.composite
def pair(draw: st.DrawFn) -> tuple[list[Message[Any]], list[Any]]:
    """Recorded messages and an expectation, equal as a multiset about half the time."""
    actual = draw(st.lists(message(), max_size=6))
    if draw(st.booleans()):
        expected = [
            type(m)(value=variant(m.value, draw(st.booleans())))
            for m in draw(st.permutations(actual))
        ]
    else:
        expected = draw(st.lists(message(), max_size=6))
    return actual, expected


def passes(actual: list[Message[Any]], expected: list[Any], ordered: bool) -> bool:
    try:
        assert_messages(actual, expected, ordered=ordered)
    except AssertionError:
        return False
    return True


def accepts(expected: Any, actual: Message[Any]) -> bool:
    if isinstance(expected, Like):
        return isinstance(actual, expected.message_class) and all(
            v == getattr(actual, k) for k, v in expected.fields.items()
        )
    if isinstance(expected, type):
        return isinstance(actual, expected)
    return bool(expected == actual)


def multiset_equal(actual: list[Message[Any]], expected: list[Any]) -> bool:
    """Brute force: some pairing accepts every message."""
    if len(actual) != len(expected):
        return False
    return any(
        all(accepts(e, a) for e, a in zip(expected, permutation, strict=True))
        for permutation in itertools.permutations(actual)
    )


@settings(max_examples=300, deadline=None)
@given(pair())
def test_unordered_passes_iff_multisets_are_equal(
    case: tuple[list[Message[Any]], list[Any]],
) -> None:
    actual, expected = case
    assert passes(actual, expected, ordered=False) is multiset_equal(actual, expected)


@settings(max_examples=300, deadline=None)
@given(pair())
def test_ordered_passes_iff_sequences_are_equal(
    case: tuple[list[Message[Any]], list[Any]],
) -> None:
    actual, expected = case
    equal = len(actual) == len(expected) and all(
        e == a for e, a in zip(expected, actual, strict=True)
    )
    assert passes(actual, expected, ordered=True) is equal


def greedy_multiset_equal(actual: list[Message[Any]], expected: list[Message[Any]]) -> bool:
    """Multiset equality of instances: ``==`` is an equivalence, so greedy pairing decides."""
    left = list(actual)
    for item in expected:
        for index, candidate in enumerate(left):
            if item == candidate:
                del left[index]
                break
        else:
            return False
    return not left


@st.composite
def long_pair(draw: st.DrawFn) -> tuple[list[Message[Any]], list[Any]]:
    """Long lists, mostly shuffled: past the point where positions stop being compared."""
    actual = draw(st.lists(message(), min_size=40, max_size=90))
    expected = [
        type(m)(value=variant(m.value, draw(st.booleans()))) for m in draw(st.permutations(actual))
    ]
    if draw(st.booleans()):
        expected[draw(st.integers(0, len(expected) - 1))] = draw(message())
    return actual, expected


@settings(max_examples=100, deadline=None)
@given(long_pair())
def test_unordered_long_lists_pass_iff_multisets_are_equal(
    case: tuple[list[Message[Any]], list[Any]],
) -> None:
    actual, expected = case
    assert passes(actual, expected, ordered=False) is greedy_multiset_equal(actual, expected)


@st.composite
def wildcard_pair(draw: st.DrawFn) -> tuple[list[Message[Any]], list[Any]]:
    """Expectations mixing instances with classes and like() of the same messages."""
    actual, expected = draw(pair())
    mixed: list[Any] = []
    for item in expected:
        kind = draw(st.sampled_from(["instance", "class", "like"]))
        if kind == "class":
            mixed.append(type(item))
        elif kind == "like":
            mixed.append(like(type(item), value=item.value))
        else:
            mixed.append(item)
    return actual, mixed


@settings(max_examples=300, deadline=None)
@given(wildcard_pair())
def test_unordered_finds_a_pairing_with_classes_and_like(
    case: tuple[list[Message[Any]], list[Any]],
) -> None:
    actual, expected = case
    assert passes(actual, expected, ordered=False) is multiset_equal(actual, expected)


@pytest.mark.parametrize("order", [1, -1])
def test_an_instance_gives_way_to_a_class_that_needs_its_match(order: int) -> None:
    # Sample(1) equals both recorded messages; only one of them is a Sample.
    recorded = [Sample(value=1), SampleTwin(value=1)][::order]
    assert_messages(recorded, [Sample(value=1), Sample], ordered=False)
    assert_messages(recorded, [like(Sample, value=ANY), Sample(value=1)], ordered=False)


def test_many_duplicates_and_colliding_keys() -> None:
    # Equal top-level shape, values differing deep down: one crowded bucket.
    recorded = [Sample(value={"x": [[i]]}) for i in range(200)] * 2
    expected = list(reversed(recorded))
    assert_messages(recorded, expected, ordered=False)
    with pytest.raises(AssertionError, match="1 expected but not recorded"):
        assert_messages(recorded, [*expected[:-1], Sample(value={"x": [[-1]]})], ordered=False)


def test_unhashable_values_are_compared_too() -> None:
    class Box:
        def __init__(self, content: int) -> None:
            self.content = content

        def __eq__(self, other: object) -> bool:
            return isinstance(other, Box) and other.content == self.content

        __hash__ = None  # type: ignore[assignment]

    recorded = [Sample(value=Box(1)), Sample(value=Box(2))]
    assert_messages(recorded, [Sample(value=Box(2)), Sample(value=Box(1))], ordered=False)
    with pytest.raises(AssertionError):
        assert_messages(recorded, [Sample(value=Box(2)), Sample(value=Box(3))], ordered=False)


@pytest.mark.parametrize(
    ("actual", "expected", "message"),
    [
        (42, [], "cannot read messages from an int; pass a list of messages"),
        ([1], [], r"actual\[0\] is an int, not a message"),
        (Sample(), [], "got a single Sample: pass \\[message\\]"),
        ([], "abc", "expects a list of expected messages, got a str"),
        ([], [{"value": 1}], r"expected\[0\] is a dict, not a message, a message class"),
        ([], [int], r"expected\[0\] is the class int, not a message"),
    ],
)
def test_wrong_arguments_raise_type_error(actual: Any, expected: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        assert_messages(actual, expected)


def test_like_checks_its_arguments_when_called() -> None:
    with pytest.raises(TypeError, match="Sample has no field 'title'; its fields are: "):
        like(Sample, title="DDD")
    with pytest.raises(TypeError, match="like\\(\\) expects a message class"):
        like(Sample(), value=1)  # type: ignore[arg-type]
    assert repr(like(Sample, value=1)) == "like(Sample, value=1)"
