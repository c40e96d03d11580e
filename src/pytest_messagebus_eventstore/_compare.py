"""Matching recorded messages (or stream events) against expectations.

Equality of two messages is the one of ``messagebus.Message.__eq__``: their
``model_dump`` without ``message_id`` and ``created_at`` are equal. Each
message is dumped once.

An unordered comparison then pairs equal dumps in two steps. First, each dump
is looked up in a dict by the tuple of its field values, metadata aside: the
lookup compares the tuples with ``==``, value by value as ``==`` between dicts
does, and the metadata are compared after it, so a pair found there is equal.
That lookup misses equal dumps whose values cannot hash (a set, a list) or hash
unlike the values they equal (an object whose ``__eq__`` accepts a str): they
only cost time, as the second step takes whatever the first left. It hashes a
canonical form of the dump, so that only messages with the same key are
compared with ``==``. This key never decides equality, it only narrows the
candidates: two equal dumps always get the same key, and a message whose dump
holds a value of a type we cannot hash consistently with ``==`` gets no key and
is compared with every candidate.
"""

from __future__ import annotations

import copy
import datetime
import decimal
import enum
import fractions
import functools
import operator
import uuid
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, TypeAdapter

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    from ._render import Limits

EXCLUDED = frozenset({"message_id", "created_at"})

# Values of these types are hashed as they are: Python guarantees that equal
# ones (1, 1.0, True, Decimal(1)) hash alike.
_SCALARS = (
    str,
    int,
    float,
    complex,
    bytes,
    type(None),
    uuid.UUID,
    datetime.date,
    datetime.time,
    datetime.timedelta,
    decimal.Decimal,
    fractions.Fraction,
    enum.Enum,
)
_EXACT_SCALARS = frozenset({str, int, float, bool, type(None), uuid.UUID, datetime.datetime})
# A list never equals a tuple and a dict never equals a sequence, so each kind
# of container gets its own tag; set and frozenset compare equal, so share one.
_DICT, _LIST, _TUPLE, _SET = range(4)
# Containers deeper than this are keyed by their kind and length only: the key
# stays cheap, and ``==`` still decides.
_KEY_DEPTH = 2


class _Unkeyable(Exception):
    pass


def _canonical(value: Any, depth: int) -> Any:
    """A hashable form of a dumped value, equal for values that are ``==``."""
    if type(value) in _EXACT_SCALARS:
        return value
    if isinstance(value, dict):
        if depth == 0:
            return (_DICT, len(value))
        return (
            _DICT,
            frozenset(
                [
                    (k, v if type(v) in _EXACT_SCALARS else _canonical(v, depth - 1))
                    for k, v in value.items()
                ]
            ),
        )
    if isinstance(value, (list, tuple)):
        tag = _LIST if isinstance(value, list) else _TUPLE
        if depth == 0:
            return (tag, len(value))
        return (
            tag,
            tuple([v if type(v) in _EXACT_SCALARS else _canonical(v, depth - 1) for v in value]),
        )
    if isinstance(value, (set, frozenset)):
        return (_SET, len(value) if depth == 0 else frozenset(value))
    if isinstance(value, _SCALARS):
        return value
    raise _Unkeyable


def content_key(value: Any, depth: int = _KEY_DEPTH) -> int | None:
    """Hash of ``value`` consistent with ``==``, or None when there is none."""
    try:
        return hash(_canonical(value, depth))
    except (_Unkeyable, TypeError):
        # TypeError: an unhashable value in a set, or a signalling Decimal NaN.
        return None


# What _canonical(value, 0) gives these containers, without the call.
_SHALLOW_TAGS: dict[type, int] = {
    dict: _DICT,
    list: _LIST,
    tuple: _TUPLE,
    set: _SET,
    frozenset: _SET,
}


@functools.lru_cache(maxsize=256)
def _field_values(shape: tuple[Any, ...]) -> Callable[[dict[Any, Any]], tuple[Any, ...]] | None:
    """The values of a dump with these keys, but ``metadata``, in the order of their names.

    Equal dumps have the same keys, maybe in another order (two classes with
    the same fields declared differently): sorting the names gives them the
    same tuple. Dumps of one class share their shape, so this is computed
    once per class, not once per message. None when the keys are not all
    strings (a model_dump of its own): they may not sort.
    """
    if not all(type(name) is str for name in shape):
        return None
    names = sorted(name for name in shape if name != "metadata")
    if len(names) == 1:
        # itemgetter of one name gives the value itself, not a tuple.
        (name,) = names
        return lambda dump: (dump[name],)
    if not names:
        return lambda dump: ()
    return operator.itemgetter(*names)


def coarse_key(value: Any) -> int | None:
    """A cheaper :func:`content_key`.

    The metadata (the same for every message of a class) is left out, and
    nested containers count by kind and length only.
    """
    if type(value) is not dict:
        return content_key(value, 1)
    field_values = _field_values(tuple(value))
    if field_values is None:
        return None
    scalars, tags = _EXACT_SCALARS, _SHALLOW_TAGS
    try:
        # Scalars are keyed by themselves: a dump of exact scalars gets the
        # key that coarse_keys() computes without this loop.
        return hash(
            tuple(
                [
                    v
                    if type(v) in scalars
                    else (tags[type(v)], len(v))
                    if type(v) in tags
                    else _canonical(v, 0)
                    for v in field_values(value)
                ]
            )
        )
    except (_Unkeyable, TypeError):
        return None


def coarse_keys(values: Iterable[Any]) -> list[int | None]:
    """The :func:`coarse_key` of each value, a dump of exact scalars without a call."""
    scalars = _EXACT_SCALARS
    keys: list[int | None] = []
    for value in values:
        field_values = _field_values(tuple(value)) if type(value) is dict else None
        if field_values is not None:
            fields = field_values(value)
            if scalars.issuperset(map(type, fields)):
                keys.append(hash(fields))
                continue
        keys.append(coarse_key(value))
    return keys


_BASE_DUMP = BaseModel.model_dump


def dumper() -> Callable[[BaseModel], dict[str, Any]]:
    """A :func:`message_dump` for many messages, which looks at each class once."""
    # Per class: its serializer's to_python when model_dump is not overridden.
    shortcuts: dict[type, Callable[[BaseModel], dict[str, Any]] | None] = {}

    def dump(message: BaseModel) -> dict[str, Any]:
        cls = type(message)
        try:
            to_python = shortcuts[cls]
        except KeyError:
            to_python = shortcuts[cls] = (
                cls.__pydantic_serializer__.to_python if cls.model_dump is _BASE_DUMP else None
            )
        if to_python is not None:
            # What model_dump does, without its argument handling and exclusion
            # machinery (a third of its cost on a small message).
            fields = to_python(message)
            if "message_id" in fields and "created_at" in fields:
                del fields["message_id"], fields["created_at"]
                return fields
        return message.model_dump(exclude=set(EXCLUDED))

    return dump


def message_dump(message: BaseModel) -> dict[str, Any]:
    """What ``Message.__eq__`` compares: the dump without ``message_id`` and ``created_at``."""
    return dumper()(message)


# Building an adapter takes about a third of a millisecond: shorter lists are
# dumped one message at a time.
_LIST_DUMP_LENGTH = 256
_EXCLUDED_FROM_EACH = {"__all__": set(EXCLUDED)}


def dump_each(items: Sequence[Any]) -> list[dict[str, Any] | None]:
    """The :func:`message_dump` of each item that is a model, None for the others."""
    classes = set(map(type, items)) if len(items) >= _LIST_DUMP_LENGTH else ()
    if len(classes) == 1:
        (cls,) = classes
        dump_list = _list_dumper(cls) if issubclass(cls, BaseModel) else None
        if dump_list is not None:
            # One call for the list saves the per-message call and key deletions.
            # The adapter expects a list: a tuple would be dumped by inference.
            listed = items if type(items) is list else list(items)
            dumps: list[dict[str, Any] | None] = dump_list(listed, exclude=_EXCLUDED_FROM_EACH)
            return dumps
    dump = dumper()
    return [dump(item) if isinstance(item, BaseModel) else None for item in items]


# Bounded: each adapter holds its class, and a test session may define many
# (pytester imports a test module afresh for every run).
@functools.lru_cache(maxsize=32)
def _list_dumper(cls: type[BaseModel]) -> Callable[..., Any] | None:
    """``dump_python`` of a list of exactly ``cls``, when ``model_dump`` is not overridden.

    An item of a subclass would be dumped as a ``cls``, its own fields left out.
    """
    if cls.model_dump is not _BASE_DUMP:
        return None
    return TypeAdapter(list[cls]).dump_python  # type: ignore[valid-type]


class Observed:
    """One recorded message, or one event a transport received."""

    __slots__ = (
        "_key",
        "_keyed",
        "fields",
        "index",
        "item",
        "label",
        "value",
    )

    def __init__(
        self, item: Any, index: int, label: str, value: Any, fields: dict[str, Any]
    ) -> None:
        self.item = item
        self.index = index
        # The class name of a message, the type of an event.
        self.label = label
        # Compared with ``==``: a message's dump, or an event's (type, payload).
        self.value = value
        # What is shown: the dump of a message, the decoded payload of an event.
        self.fields = fields
        self._key: int | None = None
        self._keyed = False

    @property
    def key(self) -> int | None:
        """A cheap key: equal values have equal keys, None if there is none."""
        if not self._keyed:
            self._key = coarse_key(self.value)
            self._keyed = True
        return self._key

    def describe(self, limits: Limits) -> str:
        from ._render import describe

        return describe(self.label, self.fields, limits)

    def at(self, index: int) -> Observed:
        """The same observation at another position."""
        moved = copy.copy(self)
        moved.index = index
        return moved


class Expectation:
    """One item of ``expected``.

    ``exact`` is set for an expected message instance: it is then accepted by
    the observations equal to it, found through their key.
    """

    __slots__ = ("exact", "index", "item", "label")

    def __init__(self, item: Any, index: int, label: str, exact: Observed | None = None) -> None:
        self.item = item
        self.index = index
        self.label = label
        self.exact = exact

    def accepts(self, observed: Observed) -> bool:
        raise NotImplementedError

    def diff(self, observed: Observed) -> list[tuple[str, Any, Any]]:
        """(field, expected, actual) for each difference with ``observed``."""
        raise NotImplementedError

    def describe(self, limits: Limits) -> str:
        raise NotImplementedError

    def at(self, index: int) -> Expectation:
        """The same expectation at another position."""
        moved = copy.copy(self)
        moved.index = index
        return moved


class ExactExpectation(Expectation):
    """An expected instance: equal by content."""

    __slots__ = ()
    exact: Observed

    def accepts(self, observed: Observed) -> bool:
        return bool(self.exact.value == observed.value)

    def describe(self, limits: Limits) -> str:
        return self.exact.describe(limits)


def match_ordered(expected: Sequence[Expectation], observed: Sequence[Observed]) -> list[int]:
    """Positions where expectation and observation disagree (common length only)."""
    return [i for i, (e, o) in enumerate(zip(expected, observed, strict=False)) if not e.accepts(o)]


def match_unordered(
    expected: Sequence[Expectation], observed: Sequence[Observed]
) -> list[int | None]:
    """A maximum matching: for each expectation, the index of its observation or None.

    Instances are paired first (see :func:`pair_instances`). Only then do the
    other expectations (classes, partial ones, instances without a key) get
    augmenting paths, which may move a paired instance to another equal
    observation.
    """
    pairing = pair_instances(
        [None if e.exact is None else e.exact.value for e in expected],
        [o.value for o in observed],
    )
    if pairing.complete:
        return pairing.matched
    neighbours = _Neighbours(expected, observed)
    for i in pairing.pending:
        _augment(i, neighbours, pairing.owner, pairing.matched)
    return pairing.matched


class Pairing:
    """Expected instances paired with equal observations.

    ``matched[i]`` is the observation of expectation ``i`` (or None),
    ``owner[j]`` the expectation of observation ``j`` (or None). ``pending``
    lists the expectations left unpaired. When ``complete``, no augmenting
    path can pair any of them: they have no equal observation left.
    """

    __slots__ = ("complete", "matched", "owner", "pending")

    def __init__(
        self,
        matched: list[int | None],
        owner: list[int | None],
        pending: list[int],
        complete: bool,
    ) -> None:
        self.matched = matched
        self.owner = owner
        self.pending = pending
        self.complete = complete


def pair_instances(expected: Sequence[Any], observed: Sequence[Any]) -> Pairing:
    """Pair the values of expected instances (None for other expectations) with equal observed ones.

    Works on the compared values alone, so that a passing comparison builds no
    object per message. An instance is paired with the observation at the
    same position when equal (lists compared without order are often in
    order, or nearly), else by the values of its fields, else through the keys
    of the observations left.
    """
    owner: list[int | None] = [None] * len(observed)
    matched: list[int | None] = [None] * len(expected)
    misses = 0
    for i, (e, o) in enumerate(zip(expected, observed, strict=False)):
        if e is not None and e == o:
            owner[i] = i
            matched[i] = i
        else:
            misses += 1
            # A shuffled list matches at random positions only: stop paying
            # for comparisons that fail, the fields and keys below pair the rest.
            if misses > _POSITIONAL_MISSES and misses > i - misses + 1:
                break
    if misses:
        _pair_by_fields(expected, observed, owner, matched)
    if None not in matched:
        # Every expectation is an instance, and paired.
        return Pairing(matched, owner, [], complete=True)
    buckets: dict[int, list[int]] = defaultdict(list)
    unkeyed: list[int] = []
    free = [j for j, holder in enumerate(owner) if holder is None]
    for j, key in zip(free, coarse_keys([observed[j] for j in free]), strict=True):
        if key is None:
            unkeyed.append(j)
        else:
            buckets[key].append(j)
    crowded: dict[int, _CrowdedBucket] = {}
    unkeyed_free = unkeyed[::-1]
    # Expectations that are not instances, then instances left without a pair.
    pending = [i for i, e in enumerate(expected) if e is None]
    wildcards = bool(pending)
    unpaired = [i for i, e in enumerate(expected) if e is not None and matched[i] is None]
    for i, key in zip(unpaired, coarse_keys([expected[i] for i in unpaired]), strict=True):
        e = expected[i]
        if key is None:
            wildcards = True
            pending.append(i)
            continue
        candidates = buckets.get(key)
        if candidates is None:
            found = None
        elif len(candidates) == 1:
            # The usual bucket, taken without a call.
            found = candidates[0]
            if e == observed[found]:
                candidates.pop()
            else:
                found = None
        elif key in crowded or len(candidates) > _CROWDED:
            bucket = crowded.get(key)
            if bucket is None:
                bucket = crowded[key] = _CrowdedBucket(candidates, observed)
            found = bucket.take(e, observed)
        else:
            found = _take(candidates, e, observed)
        if found is None:
            found = _take(unkeyed_free, e, observed)
        if found is None:
            pending.append(i)
        else:
            owner[found] = i
            matched[i] = found
    # In the order of the expectations, as augmenting paths are searched.
    pending.sort()
    # Equality is an equivalence: without other expectations, an instance left
    # unpaired has no equal observation left, and moving others cannot help.
    return Pairing(matched, owner, pending, complete=not wildcards)


# Failed positional comparisons tolerated before giving up on positions, as
# long as they outnumber the successful ones.
_POSITIONAL_MISSES = 32
# A bucket with more candidates than this is split by the finer key.
_CROWDED = 16


class _CrowdedBucket:
    """Free observations sharing a key, split by their finer key."""

    __slots__ = ("by_fine_key",)

    def __init__(self, indices: list[int], observed: Sequence[Any]) -> None:
        self.by_fine_key: dict[int | None, list[int]] = defaultdict(list)
        for index in indices:
            self.by_fine_key[content_key(observed[index])].append(index)

    def take(self, expected: Any, observed: Sequence[Any]) -> int | None:
        """An observation equal to ``expected``, no longer free; None if there is none."""
        fine = content_key(expected)
        if fine is None:
            groups: Iterable[list[int]] = list(self.by_fine_key.values())
        else:
            groups = [self.by_fine_key.get(fine, []), self.by_fine_key.get(None, [])]
        for group in groups:
            j = _take(group, expected, observed)
            if j is not None:
                return j
        return None


def _take(candidates: list[int], expected: Any, observed: Sequence[Any]) -> int | None:
    # From the end, so that equal duplicates are taken in O(1) (in reverse
    # order, which does not matter: they are equal).
    for pos in range(len(candidates) - 1, -1, -1):
        j = candidates[pos]
        if expected == observed[j]:
            candidates[pos] = candidates[-1]
            candidates.pop()
            return j
    return None


def _pair_by_fields(
    expected: Sequence[Any],
    observed: Sequence[Any],
    owner: list[int | None],
    matched: list[int | None],
) -> None:
    """Pair each unpaired expected dump with the one free observed dump of the same values.

    Dumps are dicts whose ``==`` compares the values of the same keys: when a
    dict lookup finds the tuple of the values, and the keys and metadata are
    the same too, the dumps are equal. A key shared by two expectations, or by
    two observations equal to its expectation, pairs nothing, nor does a group
    of expectations where a value fails to hash, or mostly made of copies: the
    keys of pair_instances() pair what is left.
    """
    unpaired = [i for i, taken in enumerate(matched) if taken is None]
    free = [j for j, holder in enumerate(owner) if holder is None]
    expected_dumps = [expected[i] for i in unpaired]
    observed_dumps = [observed[j] for j in free]
    shape = _common_shape(expected_dumps)
    if shape is not None:
        try:
            slots = _Slots(shape, unpaired, expected_dumps)
        except KeyError:
            # An expected dump without a key of the first one: several classes.
            pass
        else:
            slots.pair(free, observed_dumps, owner, matched)
            return
    observed_groups = _by_shape(free, observed_dumps)
    for shape, (indices, dumps) in _by_shape(unpaired, expected_dumps).items():
        found = observed_groups.get(shape)
        if found is not None:
            _Slots(shape, indices, dumps).pair(*found, owner, matched)


def _common_shape(dumps: list[Any]) -> tuple[Any, ...] | None:
    """The keys of the first dump, if all the dumps are dicts with as many keys."""
    if dumps and set(map(type, dumps)) == {dict}:
        shape = tuple(dumps[0])
        if set(map(len, dumps)) == {len(shape)}:
            return shape
    return None


def _by_shape(
    indices: list[int], dumps: list[Any]
) -> dict[tuple[Any, ...], tuple[list[int], list[Any]]]:
    """The indices and dumps that are dicts, by the keys of each dump in their order."""
    groups: dict[tuple[Any, ...], tuple[list[int], list[Any]]] = {}
    for index, dump in zip(indices, dumps, strict=True):
        if type(dump) is dict:
            shape = tuple(dump)
            group = groups.get(shape)
            if group is None:
                groups[shape] = ([index], [dump])
            else:
                group[0].append(index)
                group[1].append(dump)
    return groups


# A position whose expectation is left to the keys of pair_instances():
# among several equal messages, they choose which ones are paired, so that a
# failure names the same leftovers as without this shortcut.
_AMBIGUOUS = -1


class _Slots:
    """Expected dumps with the keys of ``shape``, by the values of their fields."""

    def __init__(self, shape: tuple[Any, ...], indices: list[int], dumps: list[Any]) -> None:
        """Raise KeyError if a dump lacks a key of ``shape``.

        Each dump must have as many keys as ``shape``: it then has exactly
        those.
        """
        self.fields = _field_values(shape)
        self.size = len(shape)
        self.indices = indices
        # The position in ``indices`` of each tuple of values; None when a
        # value fails to hash (or the keys do not sort).
        self.positions: dict[Any, int] | None = None
        # Read in order now, rather than at random positions as observations
        # find their slots.
        self.metadata = (
            list(map(operator.itemgetter("metadata"), dumps)) if "metadata" in shape else None
        )
        if self.fields is None:
            return
        keys = list(map(self.fields, dumps))
        try:
            positions = dict(zip(keys, range(len(keys)), strict=True))
        except TypeError:
            return
        if len(positions) < len(keys):
            # A key keeps its last position: the others are those of its
            # copies, found without hashing every key again.
            copies = set(range(len(keys))).difference(positions.values())
            if len(copies) * 4 > len(keys):
                # Mostly duplicates, which the keys of pair_instances() pair.
                return
            for position in copies:
                positions[keys[position]] = _AMBIGUOUS
        self.positions = positions

    def pair(
        self,
        indices: list[int],
        dumps: list[Any],
        owner: list[int | None],
        matched: list[int | None],
    ) -> None:
        """Pair the observed ``dumps`` (at ``indices``) equal to an expected one."""
        fields, slots, metadata = self.fields, self.positions, self.metadata
        if fields is None or slots is None:
            return
        try:
            found = list(map(slots.get, map(fields, dumps)))
        except (KeyError, TypeError):
            found = [_slot(slots, fields, o) for o in dumps]
        expected_indices, size = self.indices, self.size
        for j, position, o in zip(indices, found, dumps, strict=True):
            if position is None or position == _AMBIGUOUS:
                continue
            i = expected_indices[position]
            # A dict (another mapping may define == otherwise) with as many
            # keys, all of the expected ones but the metadata: the same keys
            # once the metadata is there too.
            if (
                i != _AMBIGUOUS
                and type(o) is dict
                and len(o) == size
                and (metadata is None or ("metadata" in o and metadata[position] == o["metadata"]))
            ):
                taken = matched[i]
                if taken is None:
                    matched[i] = j
                    owner[j] = i
                else:
                    owner[taken] = matched[i] = None
                    expected_indices[position] = _AMBIGUOUS


def _slot(slots: dict[Any, int], fields: Callable[[Any], Any], dump: Any) -> int | None:
    """The slot of ``dump``, None when it has none, lacks a key or a value fails to hash."""
    try:
        return slots.get(fields(dump))
    except (KeyError, TypeError):
        return None


class _Neighbours:
    """The observations each expectation accepts, computed when first needed.

    Equal instances accept the same observations: they share one list, which
    an augmenting path search explores once.
    """

    def __init__(self, expected: Sequence[Expectation], observed: Sequence[Observed]) -> None:
        self._expected = expected
        self._observed = observed
        self._buckets: dict[int, list[int]] = defaultdict(list)
        self._unkeyed: list[int] = []
        for o in observed:
            key = o.key
            if key is None:
                self._unkeyed.append(o.index)
            else:
                self._buckets[key].append(o.index)
        self._lists: dict[int, list[int]] = {}
        self._shared: dict[int, list[tuple[Observed, list[int]]]] = defaultdict(list)

    def of(self, i: int) -> list[int]:
        found = self._lists.get(i)
        if found is not None:
            return found
        e = self._expected[i]
        exact = e.exact
        key = exact.key if exact is not None else None
        if exact is not None and key is not None:
            for other, shared in self._shared[key]:
                if other.value == exact.value:
                    self._lists[i] = shared
                    return shared
            indices: Iterator[int] = iter([*self._buckets.get(key, ()), *self._unkeyed])
        else:
            indices = iter(range(len(self._observed)))
        found = [j for j in indices if e.accepts(self._observed[j])]
        if exact is not None and key is not None:
            self._shared[key].append((exact, found))
        self._lists[i] = found
        return found


def _augment(
    start: int,
    neighbours: _Neighbours,
    owner: list[int | None],
    matched: list[int | None],
) -> None:
    """Kuhn's augmenting path from expectation ``start``, iterative."""
    seen_observed: set[int] = set()
    seen_lists: set[int] = set()
    # Stack of (expectation, its neighbours iterator); parents to rewire.
    came_from: dict[int, tuple[int, int | None]] = {}
    stack: list[tuple[int, Iterator[int]]] = []

    def push(i: int) -> bool:
        adjacency = neighbours.of(i)
        if id(adjacency) in seen_lists:
            return False
        seen_lists.add(id(adjacency))
        # A free observation ends the path at once.
        for j in adjacency:
            if owner[j] is None and j not in seen_observed:
                seen_observed.add(j)
                _flip(i, j, came_from, owner, matched)
                return True
        stack.append((i, iter(adjacency)))
        return False

    if push(start):
        return
    while stack:
        i, adjacency_iter = stack[-1]
        for j in adjacency_iter:
            if j in seen_observed:
                continue
            seen_observed.add(j)
            holder = owner[j]
            assert holder is not None
            came_from[holder] = (i, j)
            if push(holder):
                return
            break
        else:
            stack.pop()


def _flip(
    i: int,
    j: int,
    came_from: dict[int, tuple[int, int | None]],
    owner: list[int | None],
    matched: list[int | None],
) -> None:
    """Apply the augmenting path ending with expectation ``i`` taking observation ``j``."""
    while True:
        owner[j] = i
        matched[i] = j
        step = came_from.get(i)
        if step is None:
            return
        i, next_j = step
        assert next_j is not None
        j = next_j
