"""``assert_messages``: compare what the bus recorded or streamed with what a test expects."""

from __future__ import annotations

import gc
import json
from collections.abc import Mapping, Sequence
from typing import Any

from messagebus import (
    Message,
)
from pydantic_core import to_jsonable_python

from . import _recorder
from ._compare import (
    EXCLUDED,
    ExactExpectation,
    Expectation,
    Observed,
    dump_each,
    message_dump,
    pair_instances,
)
from ._render import (
    MISSING,
    Labels,
    Limits,
    Text,
    current_verbosity,
    explain,
    explain_unmatched,
    field_diffs,
    show,
)
from .eventstore import InMemoryEventstoreRepository, SyncInMemoryEventstoreRepository
from .recording import message_store_of
from .transport import InMemoryEventstreamTransport, SyncInMemoryEventstreamTransport

__all__ = ["Like", "assert_messages", "like"]

_PAYLOAD_EXCLUDED = {*EXCLUDED, "metadata"}


class Like:
    """A partial expectation: a message of a class, with some of its fields.

    Build it with :func:`like`.
    """

    __slots__ = ("fields", "message_class")

    def __init__(self, message_class: type[Message[Any]], fields: dict[str, Any]) -> None:
        self.message_class = message_class
        self.fields = fields

    def __repr__(self) -> str:
        shown = "".join(f", {name}={value!r}" for name, value in self.fields.items())
        return f"like({self.message_class.__name__}{shown})"


def like(message_class: type[Message[Any]], /, **fields: Any) -> Like:
    """Expect a message of ``message_class`` (or a subclass) whose given fields are equal.

    The other fields may hold anything, so volatile ids or timestamps need not
    be known. Each value is compared with ``value == field`` (the expected
    value on the left), so ``unittest.mock.ANY`` or ``pytest.approx(...)`` work
    where pydantic would reject them as field values::

        assert_messages(eventstore, [like(BookRegistered, title="DDD")])
    """
    __tracebackhide__ = True
    if not (isinstance(message_class, type) and issubclass(message_class, Message)):
        raise TypeError(
            f"like() expects a message class as first argument, got {_type_name(message_class)}"
        )
    unknown = [name for name in fields if name not in message_class.model_fields]
    if unknown:
        valid = ", ".join(sorted(message_class.model_fields))
        raise TypeError(
            f"like({message_class.__name__}, ...): {message_class.__name__} has no field "
            f"{', '.join(map(repr, unknown))}; its fields are: {valid}"
        )
    return Like(message_class, fields)


def assert_messages(actual: Any, expected: Sequence[Any], *, ordered: bool = True) -> None:
    """Assert that ``actual`` holds exactly the ``expected`` messages.

    ``actual`` is a sequence of messages, an in-memory message store, a unit of
    work or its transaction (its message store is read), or an in-memory
    eventstream transport (its events are matched by type and payload).

    Each item of ``expected`` is a message (equal by content, as ``==``
    between messages: ``message_id`` and ``created_at`` are ignored), a
    message class (any message of it or of a subclass) or a :func:`like`
    partial expectation. With ``ordered=False``, the order does not matter but
    duplicates still count.

    On failure, an ``AssertionError`` names the differing positions and
    fields, and the messages missing or not expected.
    """
    __tracebackhide__ = True
    if isinstance(expected, (str, bytes, Mapping)) or not isinstance(expected, Sequence):
        raise TypeError(
            f"assert_messages() expects a list of expected messages, got {_type_name(expected)}"
        )
    for index, item in enumerate(expected):
        if not (
            isinstance(item, (Message, Like))
            or (isinstance(item, type) and issubclass(item, Message))
        ):
            raise TypeError(
                f"assert_messages(): expected[{index}] is {_type_name(item)}, not a message, "
                "a message class or like(...)"
            )
    items, streamed = _read_actual(actual)
    # Comparing creates many small containers and no cycles: the collector
    # would only walk them again and again (half the time on 100k messages).
    collecting = gc.isenabled()
    gc.disable()
    try:
        lines, matched = _compare(items, streamed, expected, ordered)
    finally:
        if collecting:
            gc.enable()
    _recorder.note_checked(items[j] for j in matched if j is not None)
    if lines is not None:
        raise AssertionError("\n".join(lines))


def _compare(
    items: list[Any], streamed: bool, expected: Sequence[Any], ordered: bool
) -> tuple[list[str] | None, list[int | None]]:
    __tracebackhide__ = True
    if streamed:
        unpublished = [item for item in expected if not _published(item)]
        if unpublished:
            names = sorted({_class_of(item).__name__ for item in unpublished})
            if len(names) == 1:
                subject, reach, pronoun = f"{names[0]} is", "it never reaches", "it"
            else:
                subject, reach, pronoun = f"{', '.join(names)} are", "they never reach", "them"
            raise AssertionError(
                f"{subject} not published (metadata.published is False), so {reach} a "
                f"transport; expect {pronoun} in the message store instead, e.g. "
                "assert_messages(eventstore, [...])"
            )
        observed = [_observe_event(event, index) for index, event in enumerate(items)]
        expectations = [_expect_event(item, index) for index, item in enumerate(expected)]
        noun = "event"
    else:
        dumps = dump_each(items)
        expected_dumps = dump_each(expected)
        # Most comparisons pass, in order: settle them before building anything.
        if expected_dumps == dumps:
            return None, list(range(len(items)))
        if not ordered and None not in expected_dumps:
            # Only instances: pair the dumps, and build the objects of the
            # failure text for what is left unpaired only.
            pairing = pair_instances(expected_dumps, dumps)
            if pairing.complete:
                missing = [
                    _expect_message(expected[i], i, expected_dumps[i]) for i in pairing.pending
                ]
                unexpected = [
                    _observe_message(items[j], j, dumps[j])
                    for j, owner in enumerate(pairing.owner)
                    if owner is None
                ]
                limits = Limits.for_verbosity(current_verbosity())
                lines = explain_unmatched(missing, unexpected, Labels(), limits, "message")
                return lines, pairing.matched
        observed = [
            _observe_message(message, index, dump)
            for index, (message, dump) in enumerate(zip(items, dumps, strict=True))
        ]
        expectations = [
            _expect_message(item, index, dump)
            for index, (item, dump) in enumerate(zip(expected, expected_dumps, strict=True))
        ]
        noun = "message"
    return explain(
        expectations,
        observed,
        ordered=ordered,
        labels=Labels(),
        verbosity=current_verbosity(),
        noun=noun,
    )


def _type_name(value: Any) -> str:
    if isinstance(value, type):
        return f"the class {value.__name__}"
    name = type(value).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def _read_actual(actual: Any) -> tuple[list[Any], bool]:
    """The messages (or events, then True) that ``actual`` holds."""
    __tracebackhide__ = True
    if isinstance(actual, (InMemoryEventstreamTransport, SyncInMemoryEventstreamTransport)):
        return list(actual.events), True
    store = message_store_of(actual)
    if isinstance(store, (InMemoryEventstoreRepository, SyncInMemoryEventstoreRepository)):
        return list(store.messages), False
    if store is not None:
        recorder = _recorder.active_recorder()
        if recorder is None:
            raise TypeError(
                f"assert_messages() cannot read the messages of {type(store).__name__}: "
                "only the in-memory stores keep them, and other stores are recorded only "
                "while a test runs under pytest with this plugin"
            )
        return recorder.messages_of(store), False
    if isinstance(actual, Message):
        raise TypeError(
            f"assert_messages() expects a list of messages, got a single "
            f"{type(actual).__name__}: pass [message]"
        )
    if isinstance(actual, (str, bytes, Mapping)) or not isinstance(actual, Sequence):
        raise TypeError(
            f"assert_messages() cannot read messages from {_type_name(actual)}; pass a list "
            "of messages, a message store, a unit of work or its transaction, or a transport"
        )
    for index, item in enumerate(actual):
        if not isinstance(item, Message):
            raise TypeError(
                f"assert_messages(): actual[{index}] is {_type_name(item)}, not a message"
            )
    return list(actual), False


def _class_of(item: Any) -> type[Message[Any]]:
    if isinstance(item, Like):
        return item.message_class
    if isinstance(item, type):
        return item
    return type(item)


def _default_metadata(cls: type[Message[Any]]) -> Any:
    """The metadata a class declares as default, or None (a base class declares none)."""
    field = cls.model_fields.get("metadata")
    default = None if field is None else field.default
    return default if hasattr(default, "name") and hasattr(default, "schema_version") else None


def _published(item: Any) -> bool:
    metadata = item.metadata if isinstance(item, Message) else _default_metadata(_class_of(item))
    return metadata is None or bool(getattr(metadata, "published", False))


def _class_diff(expected: type, observed: Observed) -> list[tuple[str, Any, Any]]:
    if isinstance(observed.item, expected):
        return []
    return [("class", Text(f"{expected.__name__} (or a subclass)"), Text(observed.label))]


def _observe_message(
    message: Message[Any], index: int, dump: dict[str, Any] | None = None
) -> Observed:
    if dump is None:
        dump = message_dump(message)
    return Observed(message, index, type(message).__name__, dump, dump)


class _ExactMessage(ExactExpectation):
    __slots__ = ()

    def diff(self, observed: Observed) -> list[tuple[str, Any, Any]]:
        diffs = field_diffs(self.exact.fields, observed.fields)
        if type(observed.item) is not type(self.item):
            diffs.insert(0, ("class", Text(self.label), Text(observed.label)))
        return diffs


class _MessageOfClass(Expectation):
    __slots__ = ()

    def accepts(self, observed: Observed) -> bool:
        return isinstance(observed.item, self.item)

    def diff(self, observed: Observed) -> list[tuple[str, Any, Any]]:
        return _class_diff(self.item, observed)

    def describe(self, limits: Limits) -> str:
        return f"any {self.label}"


def _describe_like(item: Like, limits: Limits) -> str:
    shown = "".join(f", {name}={show(value, limits)}" for name, value in item.fields.items())
    return f"like({item.message_class.__name__}{shown})"


class _MessageLike(Expectation):
    __slots__ = ()
    item: Like

    def accepts(self, observed: Observed) -> bool:
        message = observed.item
        return isinstance(message, self.item.message_class) and all(
            value == getattr(message, name) for name, value in self.item.fields.items()
        )

    def diff(self, observed: Observed) -> list[tuple[str, Any, Any]]:
        diffs = _class_diff(self.item.message_class, observed)
        for name, value in self.item.fields.items():
            recorded = getattr(observed.item, name, MISSING)
            # ``==`` with the expected value on the left, as in accepts(): a
            # matcher may define __eq__ only.
            if recorded is MISSING or not value == recorded:  # noqa: SIM201
                diffs.append((name, value, recorded))
        return diffs

    def describe(self, limits: Limits) -> str:
        return _describe_like(self.item, limits)


def _expect_message(item: Any, index: int, dump: dict[str, Any] | None = None) -> Expectation:
    if isinstance(item, Message):
        exact = _observe_message(item, index, dump)
        return _ExactMessage(item, index, exact.label, exact)
    if isinstance(item, Like):
        return _MessageLike(item, index, item.message_class.__name__)
    return _MessageOfClass(item, index, item.__name__)


def _event_type(metadata: Any) -> str:
    return f"{metadata.name}_v{metadata.schema_version}"


def _observe_event(event: Any, index: int) -> Observed:
    event_type = event.get("type") if isinstance(event, Mapping) else None
    payload = event.get("payload") if isinstance(event, Mapping) else None
    if isinstance(payload, (str, bytes)):
        payload = json.loads(payload)
    fields = payload if isinstance(payload, dict) else {"payload": payload}
    return Observed(event, index, str(event_type), (event_type, payload), fields)


def _event_types(cls: type[Message[Any]]) -> frozenset[str]:
    """The event types of ``cls`` and its subclasses, from their default metadata."""
    types: set[str] = set()
    pending = [cls]
    while pending:
        current = pending.pop()
        metadata = _default_metadata(current)
        if metadata is not None and getattr(metadata, "published", False):
            types.add(_event_type(metadata))
        pending.extend(current.__subclasses__())
    return frozenset(types)


class _ExactEvent(ExactExpectation):
    __slots__ = ()

    def diff(self, observed: Observed) -> list[tuple[str, Any, Any]]:
        diffs = field_diffs(self.exact.fields, observed.fields)
        if observed.value[0] != self.label:
            diffs.insert(0, ("type", Text(repr(self.label)), Text(repr(observed.value[0]))))
        return diffs


class _EventOfClass(Expectation):
    __slots__ = ("types",)

    def __init__(self, item: Any, index: int, types: frozenset[str]) -> None:
        cls = _class_of(item)
        metadata = _default_metadata(cls)
        super().__init__(item, index, _event_type(metadata) if metadata else cls.__name__)
        self.types = types

    def _wanted(self) -> str:
        return " or ".join(repr(t) for t in sorted(self.types))

    def accepts(self, observed: Observed) -> bool:
        return observed.value[0] in self.types

    def diff(self, observed: Observed) -> list[tuple[str, Any, Any]]:
        if observed.value[0] in self.types:
            return []
        return [("type", Text(self._wanted()), Text(repr(observed.value[0])))]

    def describe(self, limits: Limits) -> str:
        return f"any {_class_of(self.item).__name__} ({self._wanted()})"


class _EventLike(_EventOfClass):
    __slots__ = ()
    item: Like

    def _fields(self) -> dict[str, Any]:
        # The metadata is the event's type, not part of its payload.
        return {name: value for name, value in self.item.fields.items() if name != "metadata"}

    def accepts(self, observed: Observed) -> bool:
        return super().accepts(observed) and all(
            _payload_equal(value, observed.fields.get(name, MISSING))
            for name, value in self._fields().items()
        )

    def diff(self, observed: Observed) -> list[tuple[str, Any, Any]]:
        diffs = super().diff(observed)
        for name, value in self._fields().items():
            recorded = observed.fields.get(name, MISSING)
            if not _payload_equal(value, recorded):
                diffs.append((name, value, recorded))
        return diffs

    def describe(self, limits: Limits) -> str:
        return _describe_like(self.item, limits)


def _expect_event(item: Any, index: int) -> Expectation:
    __tracebackhide__ = True
    if isinstance(item, Message):
        event_type = _event_type(item.metadata)
        payload = json.loads(item.model_dump_json(exclude=_PAYLOAD_EXCLUDED))
        exact = Observed(item, index, event_type, (event_type, payload), payload)
        return _ExactEvent(item, index, event_type, exact)
    cls = _class_of(item)
    types = _event_types(cls)
    if not types:
        raise TypeError(
            f"assert_messages(): {cls.__name__} has no default metadata, so its events "
            "cannot be recognised; expect an instance instead"
        )
    if isinstance(item, Like):
        return _EventLike(item, index, types)
    return _EventOfClass(item, index, types)


def _payload_equal(expected: Any, decoded: Any) -> bool:
    """Whether a field given to like() equals the decoded JSON value of the event."""
    if decoded is MISSING:
        return False
    if expected == decoded:
        return True
    try:
        return bool(to_jsonable_python(expected) == decoded)
    except Exception:
        # Not serializable: a matcher that already said no.
        return False


_EQUALITY = Labels(
    expected="right",
    actual="left",
    operator=True,
    missing="Messages only on the right:",
    unexpected="Messages only on the left:",
)


def _messages_in(value: Any) -> list[Message[Any]] | None:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        return None
    if all(isinstance(item, Message) for item in value):
        return list(value)
    return None


def _summary(value: Any) -> str:
    if isinstance(value, Message):
        return f"{type(value).__name__}(...)"
    names = [f"{type(item).__name__}(...)" for item in value[:3]]
    if len(value) > 3:
        names.append(f"...{len(value) - 3} more")
    return f"[{', '.join(names)}]"


def explain_equality(left: Any, right: Any, verbosity: int) -> list[str] | None:
    """Field-level explanation of a failed ``left == right`` between messages, or None."""
    from ._render import difference_block

    if isinstance(left, Message) and isinstance(right, Message):
        expectation = _expect_message(right, 0)
        observed = _observe_message(left, 0)
        limits = Limits.for_verbosity(verbosity)
        diffs = expectation.diff(observed)
        return [
            f"{_summary(left)} == {_summary(right)}",
            *difference_block(observed.label, diffs, _EQUALITY, limits),
        ]
    left_messages, right_messages = _messages_in(left), _messages_in(right)
    if left_messages is None or right_messages is None:
        return None
    if not any(isinstance(item, Message) for item in (*left_messages, *right_messages)):
        return None
    lines, _ = explain(
        [_expect_message(item, index) for index, item in enumerate(right_messages)],
        [_observe_message(item, index) for index, item in enumerate(left_messages)],
        ordered=True,
        labels=_EQUALITY,
        verbosity=verbosity,
    )
    if lines is None:
        return None
    return [f"{_summary(left)} == {_summary(right)}", *lines]
