"""assert_messages agrees with ``Message.__eq__``; wrong arguments raise TypeError."""

from __future__ import annotations

import enum
import itertools
import math
import random
from collections.abc import Sequence
from typing import Any
from unittest import mock
from unittest.mock import ANY
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from messagebus import (
    Event,
    Message,
    Metadata,
    SyncEventstreamPublisher,
    SyncUnitOfWorkTransaction,
)
from pydantic import computed_field, field_serializer

from pytest_messagebus_eventstore import (
    SyncInMemoryEventstoreRepository,
    SyncInMemoryEventstreamTransport,
    SyncInMemoryUnitOfWork,
    assert_messages,
    assertions,
    like,
)
from pytest_messagebus_eventstore._compare import _LIST_DUMP_LENGTH, dump_each, message_dump
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


class Pair(Event):
    left: Any = None
    right: Any = None
    metadata: Metadata = Metadata(name="pair", schema_version=1)


class PairReversed(Event):
    """Pair's fields declared the other way round: equal to a Pair of the same values."""

    right: Any = None
    left: Any = None
    metadata: Metadata = Metadata(name="pair", schema_version=1)


class Labelled(Event):
    """As many fields as a Sample, of another name."""

    label: Any = None
    metadata: Metadata = Metadata(name="labelled", schema_version=1)


class Colour(str, enum.Enum):
    RED = "red"


# One object: within a dump, ``==`` finds it equal to itself.
NAN = math.nan

# For long shuffled lists: leaves with an equal value of another type (see
# variant(): a str enum member, a set for a frozenset), NaN, a UUID.
rich_leaves = st.sampled_from([0, 1, 1.0, True, 2, "a", "red", Colour.RED, None, NAN, UUID(int=1)])
rich_values = st.recursive(
    rich_leaves,
    lambda children: (
        st.lists(children, max_size=2)
        | st.dictionaries(st.sampled_from("xy"), children, max_size=2)
        | st.frozensets(st.sampled_from([1, 2, "a"]), max_size=2)
    ),
    max_leaves=4,
)


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


@st.composite
def rich_message(draw: st.DrawFn) -> Message[Any]:
    cls = draw(st.sampled_from([Sample, Other, Labelled, Pair, PairReversed]))
    if cls in (Sample, Other):
        return cls(value=draw(rich_values))  # type: ignore[no-any-return]
    if cls is Labelled:
        return Labelled(label=draw(rich_values))
    return cls(left=draw(rich_values), right=draw(rich_values))  # type: ignore[no-any-return]


def variant(value: Any, flip: bool) -> Any:
    """An equal value written differently: dicts reversed; 1 and 1.0, set and frozenset swapped."""
    if isinstance(value, dict):
        return {k: variant(v, flip) for k, v in reversed(value.items())}
    if isinstance(value, list):
        return [variant(v, flip) for v in value]
    if not flip:
        return value
    if type(value) is int:
        return float(value)
    if type(value) is float and value.is_integer():
        return int(value)
    if isinstance(value, frozenset):
        return set(value)
    if value is Colour.RED:
        return "red"
    if value == "red":
        return Colour.RED
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


def mixed(draw: st.DrawFn, messages: list[Message[Any]]) -> list[Any]:
    """Each message as it is, or its class, or like() of its value."""
    expected: list[Any] = []
    for item in messages:
        kind = draw(st.sampled_from(["instance", "class", "like"]))
        if kind == "class":
            expected.append(type(item))
        elif kind == "like":
            expected.append(like(type(item), value=item.value))
        else:
            expected.append(item)
    return expected


@st.composite
def wildcard_pair(draw: st.DrawFn) -> tuple[list[Message[Any]], list[Any]]:
    """Expectations mixing instances with classes and like() of the same messages."""
    actual, expected = draw(pair())
    return actual, mixed(draw, expected)


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


def equal_message(m: Message[Any], flip: bool, twin: bool) -> Message[Any]:
    """Another message equal to ``m``: values written differently, maybe of the twin class."""
    fields = {
        name: variant(getattr(m, name), flip)
        for name in ("value", "label", "left", "right")
        if name in type(m).model_fields
    }
    cls: type[Message[Any]] = type(m)
    if twin and cls in (Pair, PairReversed):
        cls = PairReversed if cls is Pair else Pair
    return cls(**fields)


def tagged(m: Message[Any], tag: int) -> Message[Any]:
    """``m`` with a first value paired with ``tag``."""
    if isinstance(m, (Sample, Other)):
        return type(m)(value=(tag, m.value))
    if isinstance(m, Labelled):
        return Labelled(label=(tag, m.label))
    assert isinstance(m, (Pair, PairReversed))
    return type(m)(left=(tag, m.left), right=m.right)


@st.composite
def shuffled_pair(draw: st.DrawFn) -> tuple[list[Message[Any]], list[Message[Any]]]:
    """Long lists drawn from a few messages (duplicates), shuffled, equal about half the time."""
    pool = draw(st.lists(rich_message(), min_size=1, max_size=12))
    actual = draw(st.lists(st.sampled_from(pool), min_size=40, max_size=90))
    if draw(st.booleans()):
        # Mostly distinct messages instead.
        actual = [tagged(m, k) for k, m in enumerate(actual)]
    expected = [
        equal_message(m, draw(st.booleans()), draw(st.booleans()))
        for m in draw(st.permutations(actual))
    ]
    if draw(st.booleans()):
        index = draw(st.integers(0, len(expected) - 1))
        replaced = expected[index]
        if type(replaced) in (Sample, Other) and draw(st.booleans()):
            # The same values, other metadata.
            expected[index] = (Other if type(replaced) is Sample else Sample)(value=replaced.value)
        else:
            expected[index] = draw(rich_message())
    return actual, expected


@settings(max_examples=150, deadline=None)
@given(shuffled_pair())
def test_shuffled_lists_pass_iff_multisets_are_equal(
    case: tuple[list[Message[Any]], list[Message[Any]]],
) -> None:
    actual, expected = case
    assert passes(actual, expected, ordered=False) is greedy_multiset_equal(actual, expected)


def test_messages_with_the_same_values_and_other_metadata_are_told_apart() -> None:
    recorded = [cls(value=i) for i in range(100) for cls in (Sample, Other)]
    expected = list(recorded)
    random.Random(1).shuffle(expected)
    assert_messages(recorded, expected, ordered=False)
    swapped = [Other(value=m.value) if type(m) is Sample else m for m in expected]
    with pytest.raises(AssertionError, match="100 expected but not recorded"):
        assert_messages(recorded, swapped, ordered=False)
    # Each value once: only the metadata tell them apart.
    recorded = [Sample(value=i) for i in range(100)]
    expected = [(Sample if i % 2 else Other)(value=i) for i in range(100)]
    random.Random(5).shuffle(expected)
    with pytest.raises(AssertionError, match="50 expected but not recorded"):
        assert_messages(recorded, expected, ordered=False)


def test_a_set_equals_a_frozenset_on_either_side() -> None:
    recorded = [Sample(value=frozenset({i})) for i in range(50)] + [
        Sample(value={i}) for i in range(50, 100)
    ]
    expected = [Sample(value={i}) for i in range(50)] + [
        Sample(value=frozenset({i})) for i in range(50, 100)
    ]
    expected.reverse()
    assert_messages(recorded, expected, ordered=False)


def test_fields_in_another_order_and_unhashable_values_are_paired() -> None:
    recorded = [Pair(left=i, right=[i]) for i in range(60)]
    expected = [PairReversed(right=[i], left=float(i)) for i in reversed(range(60))]
    assert_messages(recorded, expected, ordered=False)


def shuffled(messages: list[Message[Any]], seed: int) -> list[Message[Any]]:
    random.Random(seed).shuffle(messages)
    return messages


def test_an_expected_duplicate_is_the_one_left_unmatched() -> None:
    expected = shuffled([*(Sample(value=i) for i in range(90)), Sample(value=5)], 7)
    with pytest.raises(AssertionError) as failure:
        assert_messages([Sample(value=i) for i in range(90)], expected, ordered=False)
    assert str(failure.value).splitlines()[-1] == "  [24] Sample(value=5)"


@pytest.mark.parametrize(
    ("recorded", "expected", "unmatched"),
    [
        pytest.param(
            [Sample(value=i % 30) for i in range(90)],
            shuffled([*(Sample(value=i % 30) for i in range(89)), Sample(value="new")], 2),
            ["  [28] Sample(value='new')", "  [29] Sample(value=29)"],
            id="expected duplicates",
        ),
        pytest.param(
            [*(Sample(value=i) for i in range(30)), Sample(value=5)]
            + [Sample(value=i) for i in range(30, 60)],
            shuffled([*(Sample(value=i) for i in range(60)), Sample(value="x")], 4),
            ["  [16] Sample(value='x')", "  [5] Sample(value=5)"],
            id="a recorded duplicate",
        ),
        pytest.param(
            [*(Sample(value=i) for i in range(90)), *(Sample(value=i) for i in range(0, 50, 10))],
            shuffled(
                [
                    *(Sample(value=i) for i in range(90)),
                    *(Sample(value=i) for i in range(0, 40, 10)),
                    Sample(value="new"),
                ],
                6,
            ),
            ["  [67] Sample(value='new')", "  [40] Sample(value=40)"],
            id="a few duplicates",
        ),
    ],
)
def test_failures_name_the_same_duplicates(
    recorded: list[Message[Any]], expected: list[Message[Any]], unmatched: list[str]
) -> None:
    # As the pairing by keys alone, which came first, chose them.
    with pytest.raises(AssertionError) as failure:
        assert_messages(recorded, expected, ordered=False)
    lines = str(failure.value).splitlines()
    assert [lines[-3], lines[-1]] == unmatched


def test_dumps_with_as_many_keys_but_other_ones_are_told_apart() -> None:
    recorded = [Sample(value=i) for i in range(50)] + [Labelled(label=i) for i in range(50)]
    expected = [Labelled(label=i) for i in range(50)] + [Sample(value=i) for i in range(50)]
    assert_messages(recorded, expected, ordered=False)
    with pytest.raises(AssertionError, match="50 expected but not recorded"):
        assert_messages(recorded, [Sample(value=i) for i in range(100)], ordered=False)


class Unlabelled(Event):
    """A dump of its own: the keys of a Sample's, but the metadata."""

    value: Any = None
    metadata: Metadata = Metadata(name="sample", schema_version=1)

    def model_dump(self, **kwargs: Any) -> dict[str, Any]:
        dump = super().model_dump(**kwargs)
        dump["kind"] = dump.pop("metadata")
        return dump


class Extended(Event):
    """A Sample's fields and metadata, and one more field."""

    value: Any = None
    extra: Any = None
    metadata: Metadata = Metadata(name="sample", schema_version=1)


def test_dumps_with_other_keys_are_told_apart() -> None:
    expected = [Sample(value=i) for i in range(99, -1, -1)]
    for first in (Unlabelled, Extended):
        recorded = [first(value=i) for i in range(50)] + [Sample(value=i) for i in range(50, 100)]
        with pytest.raises(AssertionError, match="50 expected but not recorded"):
            assert_messages(recorded, expected, ordered=False)
    recorded = [Sample(value=i) for i in range(100)]
    expected = [*reversed(recorded[50:]), *(Extended(value=i) for i in range(50))]
    with pytest.raises(AssertionError, match="50 expected but not recorded"):
        assert_messages(recorded, expected, ordered=False)


def test_instances_with_classes_and_like_in_a_long_shuffled_list() -> None:
    recorded = [Sample(value=i) for i in range(100)]
    expected: list[Any] = [Sample(value=i) for i in range(100)]
    expected[10] = Sample
    expected[20] = like(Sample, value=20)
    random.Random(3).shuffle(expected)
    assert_messages(recorded, expected, ordered=False)


class Shown(Event):
    value: int
    metadata: Metadata = Metadata(name="shown", schema_version=1)

    @field_serializer("value")
    def _show(self, value: int) -> str:
        return f"<{value}>"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def double(self) -> int:
        return self.value * 2


class ShownMore(Shown):
    extra: int = 0


class Dumped(Event):
    """A model_dump of its own, which ``==`` between messages uses."""

    value: int
    noise: int = 0
    metadata: Metadata = Metadata(name="dumped", schema_version=1)

    def model_dump(self, **kwargs: Any) -> dict[str, Any]:
        dump = super().model_dump(**kwargs)
        del dump["noise"]
        return dump


LONG = _LIST_DUMP_LENGTH


@pytest.mark.parametrize(
    "items",
    [
        pytest.param([Shown(value=i) for i in range(LONG)], id="one class"),
        pytest.param([ShownMore(value=i, extra=i) for i in range(LONG)], id="one subclass"),
        pytest.param(
            [(Shown if i % 2 else ShownMore)(value=i) for i in range(LONG)], id="class and subclass"
        ),
        pytest.param([Dumped(value=i, noise=i) for i in range(LONG)], id="own model_dump"),
        pytest.param([Shown(value=i) for i in range(LONG - 1)], id="short"),
        pytest.param(tuple(Shown(value=i) for i in range(LONG)), id="tuple"),
        pytest.param(
            [Shown, like(Shown, value=1), *[Shown(value=i) for i in range(LONG)]], id="mixed"
        ),
    ],
)
@pytest.mark.filterwarnings("error")
def test_a_list_is_dumped_as_each_of_its_messages(items: Sequence[Any]) -> None:
    assert dump_each(items) == [
        message_dump(item) if isinstance(item, Message) else None for item in items
    ]


def test_a_long_list_of_a_model_dump_of_its_own_is_compared_with_it() -> None:
    recorded = [Dumped(value=i, noise=i) for i in range(LONG)]
    assert_messages(recorded, [Dumped(value=i) for i in range(LONG)])
    assert_messages(recorded, [Dumped(value=i) for i in reversed(range(LONG))], ordered=False)


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


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"value": 1}, r"expected\[0\] is a dict, not a message, a message class"),
        (int, r"expected\[0\] is the class int, not a message"),
        # A class every message is an instance of, but not a message class.
        (object, r"expected\[0\] is the class object, not a message"),
        (None, r"expected\[0\] is a NoneType, not a message"),
    ],
)
def test_wrong_expectations_of_a_store_raise_type_error(item: Any, message: str) -> None:
    # A store of as many messages as expected: the in-order path reads it first.
    store = SyncInMemoryEventstoreRepository()
    store.messages.append(Sample(value=1))
    try:
        with pytest.raises(TypeError, match=message):
            assert_messages(store, [item])
    finally:
        store.messages.clear()


def test_like_checks_its_arguments_when_called() -> None:
    with pytest.raises(TypeError, match="Sample has no field 'title'; its fields are: "):
        like(Sample, title="DDD")
    with pytest.raises(TypeError, match="like\\(\\) expects a message class"):
        like(Sample(), value=1)  # type: ignore[arg-type]
    assert repr(like(Sample, value=1)) == "like(Sample, value=1)"


def general_path_passes(actual: Any, expected: list[Any]) -> bool:
    """What the comparison without its short, in-order path says."""
    with mock.patch.object(assertions, "_SHORT", 0):
        return passes(actual, expected, ordered=True)


@settings(max_examples=300, deadline=None)
@given(wildcard_pair())
def test_short_lists_in_order_get_the_general_comparisons_verdict(
    case: tuple[list[Message[Any]], list[Any]],
) -> None:
    actual, expected = case
    assert passes(actual, expected, ordered=True) is general_path_passes(actual, expected)


class Sent(Event):
    value: Any = None
    metadata: Metadata = Metadata(name="sent", schema_version=1, published=True)


class SentTwin(Event):
    value: Any = None
    metadata: Metadata = Metadata(name="sent", schema_version=1, published=True)


class SentOther(Event):
    value: Any = None
    metadata: Metadata = Metadata(name="sent_other", schema_version=1, published=True)


@st.composite
def sent_pair(draw: st.DrawFn) -> tuple[list[Message[Any]], list[Any]]:
    """Messages to publish, and expectations of them in order about half the time."""
    published = [Sent, SentTwin, SentOther]
    actual = [
        draw(st.sampled_from(published))(value=draw(values)) for _ in range(draw(st.integers(0, 4)))
    ]
    if draw(st.booleans()):
        source = [type(m)(value=variant(m.value, draw(st.booleans()))) for m in actual]
    else:
        source = [draw(st.sampled_from(published))(value=draw(values)) for _ in actual]
    return actual, mixed(draw, source)


@settings(max_examples=200, deadline=None)
@given(sent_pair())
def test_short_transports_in_order_get_the_general_comparisons_verdict(
    case: tuple[list[Message[Any]], list[Any]],
) -> None:
    actual, expected = case
    transport = SyncInMemoryEventstreamTransport()
    publisher = SyncEventstreamPublisher(transport)
    for message in actual:
        publisher.send_message(message)
    # Each event kept the message it was sent from, which the short path reads.
    assert len(transport._sources) == len(actual)
    assert passes(transport, expected, ordered=True) is general_path_passes(transport, expected)


@settings(max_examples=300, deadline=None)
@given(wildcard_pair(), st.sampled_from(["store", "unit of work", "transaction"]))
def test_short_stores_in_order_get_the_general_comparisons_verdict(
    case: tuple[list[Message[Any]], list[Any]], source: str
) -> None:
    # The store, its unit of work or its transaction, as a test passes them.
    actual, expected = case
    store = SyncInMemoryEventstoreRepository()
    uow = SyncInMemoryUnitOfWork(eventstore=store)
    store.messages.extend(actual)
    try:
        read: Any = store
        if source == "unit of work":
            read = uow
        elif source == "transaction":
            read = SyncUnitOfWorkTransaction(uow)
        assert passes(read, expected, ordered=True) is general_path_passes(read, expected)
        # And as the list the store holds.
        assert passes(read, expected, ordered=True) is passes(actual, expected, ordered=True)
    finally:
        store.messages.clear()
