"""``assert_messages``: compare what the bus recorded or streamed with what a test expects."""

from __future__ import annotations

import gc
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from messagebus import (
    AsyncMessageBus,
    AsyncUnitOfWorkTransaction,
    Message,
    SyncMessageBus,
    SyncUnitOfWorkTransaction,
)
from pydantic_core import to_jsonable_python

from . import _recorder
from ._compare import (
    EXCLUDED,
    ExactExpectation,
    Expectation,
    Observed,
    dump_each,
    dumper,
    message_dump,
    pair_instances,
)
from ._compat import STORE_ATTRIBUTE
from ._render import (
    MISSING,
    Labels,
    Limits,
    Text,
    current_verbosity,
    describe,
    explain,
    explain_unmatched,
    field_diffs,
    show,
    type_name,
)
from .eventstore import InMemoryEventstoreRepository, SyncInMemoryEventstoreRepository
from .recording import message_store_of
from .transport import InMemoryEventstreamTransport, SyncInMemoryEventstreamTransport
from .uow import InMemoryUnitOfWork, SyncInMemoryUnitOfWork

if TYPE_CHECKING:
    from ._published import Source

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
            f"like() expects a message class as first argument, got {type_name(message_class)}"
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
    eventstream transport. An event an eventstream publisher sent is matched
    through the message it was serialized from and the publisher's serializer,
    whatever its format; any other event is read as messagebus's own
    serializer writes it, by its ``type`` and JSON ``payload``.

    Each item of ``expected`` is a message (equal by content, as ``==``
    between messages: ``message_id`` and ``created_at`` are ignored), a
    message class (any message of it or of a subclass) or a :func:`like`
    partial expectation. With ``ordered=False``, the order does not matter but
    duplicates still count.

    On failure, an ``AssertionError`` names the differing positions and
    fields, and the messages missing or not expected.
    """
    __tracebackhide__ = True
    if ordered and expected.__class__ is list and _passes_at_once(actual, expected):
        return
    if isinstance(expected, (str, bytes, Mapping)) or not isinstance(expected, Sequence):
        raise TypeError(
            f"assert_messages() expects a list of expected messages, got {type_name(expected)}"
        )
    for index, item in enumerate(expected):
        if not (
            isinstance(item, (Message, Like))
            or (isinstance(item, type) and issubclass(item, Message))
        ):
            raise TypeError(
                f"assert_messages(): expected[{index}] is {type_name(item)}, not a message, "
                "a message class or like(...)"
            )
    items, sources = _read_actual(actual)
    # Comparing creates many small containers and no cycles: the collector
    # would only walk them again and again (half the time on 100k messages).
    collecting = gc.isenabled()
    gc.disable()
    try:
        lines, matched = _compare(items, sources, expected, ordered)
    finally:
        if collecting:
            gc.enable()
    _recorder.note_checked(items[j] for j in matched if j is not None)
    if lines is not None:
        raise AssertionError("\n".join(lines))


# Lists up to this long that are expected in order are first compared
# position by position, the usual passing case, before the general comparison
# builds its objects: on benchmarks/user_suite.py, 84 k instructions less per
# test checking a store and a transport (4,473 M against 4,431 M).
_SHORT = 16


# The plugin's own classes, read without the checks of the general path. On
# benchmarks/user_suite.py, reading them so saves 37 k instructions per test
# checking a store and a transport (4,433.2 M against 4,414.9 M, counted side by side).
_TRANSACTIONS = (AsyncUnitOfWorkTransaction, SyncUnitOfWorkTransaction)
_UNITS_OF_WORK = (InMemoryUnitOfWork, SyncInMemoryUnitOfWork)
_STORES = (InMemoryEventstoreRepository, SyncInMemoryEventstoreRepository)
_TRANSPORTS = (InMemoryEventstreamTransport, SyncInMemoryEventstreamTransport)


def _passes_at_once(actual: Any, expected: list[Any]) -> bool:
    """Whether ``expected`` holds, in order, the messages of the plugin's ``actual``.

    The usual check of a test: a short list of messages, expected in order,
    of a unit of work, its transaction, a store or a transport of the
    plugin. By the exact type, without the abstract-class checks of the
    general path (each a Python call that a test runs from cold caches); any
    other case, and any doubt, is left to that path, failures included.
    """
    if len(expected) > _SHORT:
        return False
    instances = True
    for item in expected:
        if item.__class__ is Like:
            instances = False
        elif isinstance(item, type):
            instances = False
            if Message not in item.__mro__:
                return False
        elif Message not in type(item).__mro__:
            return False
    kind = type(actual)
    if kind in _TRANSACTIONS:
        actual = actual.uow
        kind = type(actual)
    if kind in _UNITS_OF_WORK:
        actual = getattr(actual, STORE_ATTRIBUTE)
        kind = type(actual)
    sources = None
    if kind in _STORES:
        items = actual.messages
    elif kind in _TRANSPORTS:
        items = actual.events
        sources = actual.__dict__.get("_sources")
        # A class or like() may expect a message that is not published.
        if sources is None or not instances:
            return False
    else:
        return False
    # Not a transaction's view of the store (assert_messages inside the block).
    if type(items) is not list or len(items) != len(expected):
        return False
    messages = items if sources is None else _sent_from(items, sources)
    if messages is None or not _accepted_in_order(messages, expected):
        return False
    _recorder.note_checked(items)
    return True


def _accepted_in_order(messages: Sequence[Any], expected: Sequence[Any]) -> bool:
    """Whether each expectation accepts the message at its position.

    It accepts what the general comparison accepts (an equal message, one of
    the class, one like it), and leaves the rest, failures included, to it.
    """
    dump = None
    for item, message in zip(expected, messages, strict=True):
        if isinstance(item, Like):
            if not (
                isinstance(message, item.message_class)
                and all(value == getattr(message, name) for name, value in item.fields.items())
            ):
                return False
        elif isinstance(item, type):
            if not isinstance(message, item):
                return False
        else:
            if dump is None:
                dump = dumper()
            if not isinstance(message, Message) or dump(item) != dump(message):
                return False
    return True


def _compare(
    items: list[Any], sources: dict[int, Source] | None, expected: Sequence[Any], ordered: bool
) -> tuple[list[str] | None, list[int | None]]:
    __tracebackhide__ = True
    short = ordered and len(items) == len(expected) <= _SHORT
    if sources is not None:
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
        if short:
            # The messages a publisher serialized the events from.
            messages = _sent_from(items, sources)
            if messages is not None and _accepted_in_order(messages, expected):
                return None, list(range(len(items)))
        try:
            return _compare_events(items, sources, expected, ordered)
        except _CannotCompare as error:
            raise AssertionError(str(error)) from None
    if short and _accepted_in_order(items, expected):
        return None, list(range(len(items)))
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
            missing = [_expect_message(expected[i], i, expected_dumps[i]) for i in pairing.pending]
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
    return explain(
        expectations,
        observed,
        ordered=ordered,
        labels=Labels(),
        verbosity=current_verbosity(),
        noun="message",
    )


def _sent_from(events: list[Any], sources: dict[int, Source]) -> list[Any] | None:
    """The message each event was sent from, or None if a publisher sent not all of them."""
    messages = []
    for event in events:
        source = sources.get(id(event))
        if source is None:
            return None
        messages.append(source[1][0])
    return messages


def _read_actual(actual: Any) -> tuple[list[Any], dict[int, Source] | None]:
    """The messages that ``actual`` holds, or its events and their sources for a transport."""
    __tracebackhide__ = True
    if isinstance(actual, (InMemoryEventstreamTransport, SyncInMemoryEventstreamTransport)):
        # A subclass may not have called the transport's __init__.
        return list(actual.events), getattr(actual, "_sources", None) or {}
    store = message_store_of(actual)
    if isinstance(store, (InMemoryEventstoreRepository, SyncInMemoryEventstoreRepository)):
        return list(store.messages), None
    if store is not None:
        recorder = _recorder.active_recorder()
        if recorder is None:
            raise TypeError(
                f"assert_messages() cannot read the messages of {type(store).__name__}: "
                "only the in-memory stores keep them, and other stores are recorded only "
                "while a test runs under pytest with this plugin"
            )
        return recorder.messages_of(store), None
    if isinstance(actual, Message):
        raise TypeError(
            f"assert_messages() expects a list of messages, got a single "
            f"{type(actual).__name__}: pass [message]"
        )
    if isinstance(actual, (AsyncMessageBus, SyncMessageBus)):
        flavour, prefix = (
            ("an AsyncMessageBus", "")
            if isinstance(actual, AsyncMessageBus)
            else ("a SyncMessageBus", "sync_")
        )
        raise TypeError(
            f"assert_messages() cannot read messages from the bus ({flavour}, like the "
            f"{prefix}bus fixture): a bus keeps none. Pass what it handled them with, "
            f"{prefix}uow, {prefix}eventstore or {prefix}transport, e.g. "
            f"assert_messages({prefix}eventstore, [...])"
        )
    if isinstance(actual, (str, bytes, Mapping)) or not isinstance(actual, Sequence):
        raise TypeError(
            f"assert_messages() cannot read messages from {type_name(actual)}; pass a list "
            "of messages, a message store, a unit of work or its transaction, or a transport"
        )
    for index, item in enumerate(actual):
        if not isinstance(item, Message):
            hint = ""
            if isinstance(item, Mapping):
                hint = (
                    "; for the events a transport sent, pass the transport itself: "
                    "assert_messages(transport, [...])"
                )
            raise TypeError(
                f"assert_messages(): actual[{index}] is {type_name(item)}, not a message{hint}"
            )
    return list(actual), None


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


class _Unreadable:
    """A payload that is neither JSON nor an already decoded value, and why."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _decode(payload: Any) -> Any:
    """The value of a JSON payload, any other value as it is, or an _Unreadable."""
    kind = "text that is"
    if isinstance(payload, (bytes, bytearray)):
        kind = "bytes that are"
        try:
            payload = payload.decode()
        except UnicodeDecodeError:
            return _Unreadable("bytes that are not UTF-8")
    if isinstance(payload, str):
        try:
            return json.loads(payload)
        except ValueError:
            return _Unreadable(f"{kind} not JSON")
    return payload


# The keys of messagebus's MessageSerializer around the payload, and the
# fields of a message they hold, with how to read them back.
_ENVELOPE = ("id", "created_at", "type")
_ENVELOPE_FIELDS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "message_id": ("id", UUID),
    "created_at": ("created_at", datetime.fromisoformat),
}


def _shown_fields(event: Any, decoded: Any) -> dict[Any, Any]:
    """The fields a failure shows of an event: its payload's, or its own keys."""
    if isinstance(decoded, dict):
        return decoded
    if isinstance(event, Mapping) and "payload" not in event:
        return {key: value for key, value in event.items() if key not in _ENVELOPE}
    return {"payload": event.get("payload") if isinstance(event, Mapping) else event}


_UNDECODED = object()


class _Event(Observed):
    """An event a transport received, with its message and serializer if a publisher sent it."""

    __slots__ = ("_decoded", "dump", "message", "position", "serializer", "shared", "type")

    def __init__(self, event: Any, index: int, source: Source | None) -> None:
        event_type = event.get("type") if isinstance(event, Mapping) else None
        self.message: Message[Any] | None = None
        self.serializer: Any = None
        label = str(event_type)
        if source is not None:
            self.message, self.serializer = source[1]
            if event_type is None:
                # A serializer that writes no type: the class names the event.
                label = type(self.message).__name__
        # The fields are set with the decoded payload.
        super().__init__(event, index, label, event, {})
        self.type = event_type
        self._decoded: Any = _UNDECODED
        # The index in the transport, which at() leaves as it is.
        self.position = index
        # What == between messages compares, set when an instance is expected.
        self.dump: dict[str, Any] | None = None
        # The message serialized with the shared ids of the comparison, once needed.
        self.shared: Any = None

    def decoded(self) -> Any:
        """The payload's value, decoded once needed: events that publishers sent need not be."""
        if self._decoded is _UNDECODED:
            event = self.item
            self._decoded = _decode(event.get("payload") if isinstance(event, Mapping) else None)
            self.fields = _shown_fields(event, self._decoded)
        return self._decoded

    def describe(self, limits: Limits) -> str:
        self.decoded()
        return super().describe(limits)

    def serialized_with(self, ids: dict[str, Any]) -> Any:
        if self.shared is None:
            assert self.message is not None
            self.shared = self.serializer.serialize_message(self.message.model_copy(update=ids))
        return self.shared


def _ids_of(message: Message[Any]) -> dict[str, Any]:
    return {"message_id": message.message_id, "created_at": message.created_at}


class _CannotCompare(Exception):
    """An expectation needs the fields of an event whose payload cannot be read."""


def _payload_of(observed: _Event, expectation: Expectation) -> Any:
    __tracebackhide__ = True
    decoded = observed.decoded()
    if isinstance(decoded, _Unreadable):
        raise _CannotCompare(
            f"assert_messages(): event [{observed.position}] (type {observed.type!r}) cannot "
            "be compared with the expected "
            f"{expectation.describe(Limits.for_verbosity(current_verbosity()))}: its payload "
            f"is {decoded.reason}\n"
            "It was not sent by an eventstream publisher, so it is read as messagebus's "
            "MessageSerializer writes events (a JSON payload). Expect its class instead, or "
            "send it through an AsyncEventstreamPublisher or SyncEventstreamPublisher: it is "
            "then compared through the publisher's serializer."
        )
    return decoded


class _Events:
    """What the expectations of one comparison need to know of the events."""

    __slots__ = ("ids", "labels", "messagebus_types", "serializer", "several", "unsourced")

    def __init__(self, observed: list[_Event]) -> None:
        # The type each class of message was sent as: an expectation of it is
        # labelled alike, so that a failure puts them side by side.
        self.labels: dict[type, str] = {}
        # The serializer of the first event a publisher sent: it shows the
        # expected instances, and gives their values when it sent every event.
        self.serializer: Any = None
        # Whether an event came from no publisher: it is read as messagebus writes events.
        self.unsourced = False
        # Whether the publishers had several serializers.
        self.several = False
        # Whether the publishers wrote messagebus's types, which a failure may then name.
        self.messagebus_types = True
        # The id and timestamp of the first event sent by a publisher.
        self.ids: dict[str, Any] = {}
        for event in observed:
            message = event.message
            if message is None:
                self.unsourced = True
                continue
            self.labels.setdefault(type(message), event.label)
            if self.serializer is None:
                self.serializer = event.serializer
                self.ids = _ids_of(message)
            elif event.serializer is not self.serializer:
                self.several = True
            if event.label != _event_type(message.metadata):
                self.messagebus_types = False


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


def _json_object(value: Any) -> dict[Any, Any] | None:
    decoded = _decode(value)
    return decoded if isinstance(decoded, dict) else None


def _serialized_diffs(expected: Any, recorded: Any) -> list[tuple[str, Any, Any]]:
    """The differences of two serialized events: by field in a JSON payload, else by key."""
    if not (isinstance(expected, Mapping) and isinstance(recorded, Mapping)):
        return [("event", expected, recorded)]
    diffs: list[tuple[str, Any, Any]] = []
    for key in [*expected, *(key for key in recorded if key not in expected)]:
        left, right = expected.get(key, MISSING), recorded.get(key, MISSING)
        if left is not MISSING and right is not MISSING and left == right:
            continue
        if key == "type":
            diffs.insert(0, ("type", Text(repr(left)), Text(repr(right))))
            continue
        left_fields, right_fields = _json_object(left), _json_object(right)
        if left_fields is not None and right_fields is not None:
            diffs += field_diffs(left_fields, right_fields, "" if key == "payload" else f"{key}.")
        else:
            diffs.append((str(key), left, right))
    return diffs


class _EventInstance(Expectation):
    """An expected message, matched by an event sent from a message serialized alike.

    An event a publisher sent is matched when its message equals the expected
    one, or when the publisher's serializer writes both alike given the same
    id and timestamp: ids and timestamps are ignored, as between messages, and
    what the serializer leaves out or renames is left out or renamed alike.
    Each message is serialized once, with the ids of the comparison's first
    event, so that matching without order pairs them by hashing. Any other
    event is read as messagebus's own serializer writes it.
    """

    __slots__ = ("dump", "events", "payload", "shared", "type")
    item: Message[Any]

    def __init__(self, item: Message[Any], index: int, events: _Events) -> None:
        self.type = _event_type(item.metadata)
        super().__init__(item, index, events.labels.get(type(item), self.type))
        self.events = events
        self.dump: dict[str, Any] | None = None
        # The payload messagebus's serializer gives the message, once needed.
        self.payload: dict[str, Any] | None = None
        # The message serialized with the comparison's shared ids, by serializer.
        self.shared: dict[int, Any] = {}

    def _payload(self) -> dict[str, Any]:
        if self.payload is None:
            self.payload = json.loads(self.item.model_dump_json(exclude=_PAYLOAD_EXCLUDED))
        return self.payload

    def serialized_by(self, serializer: Any) -> Any:
        """The message as ``serializer`` writes it, with the comparison's shared ids."""
        shared = self.shared.get(id(serializer))
        if shared is None:
            twin = self.item.model_copy(update=self.events.ids)
            shared = self.shared[id(serializer)] = serializer.serialize_message(twin)
        return shared

    def match_by_value(self) -> None:
        """Let an unordered matching pair this expectation by value, as the events are."""
        serializer = self.events.serializer
        if serializer is None:
            value: Any = (self.type, self._payload())
        else:
            value = self.serialized_by(serializer)
        self.exact = Observed(self.item, self.index, self.label, value, {})

    def accepts(self, observed: Observed) -> bool:
        assert isinstance(observed, _Event)
        if observed.message is not None:
            return observed.dump == self.dump or bool(
                self.serialized_by(observed.serializer) == observed.serialized_with(self.events.ids)
            )
        return observed.type == self.type and _payload_of(observed, self) == self._payload()

    def diff(self, observed: Observed) -> list[tuple[str, Any, Any]]:
        assert isinstance(observed, _Event)
        message = observed.message
        if message is not None:
            # Given the event's own ids, only the differences that matter are left.
            twin = self.item.model_copy(update=_ids_of(message))
            return _serialized_diffs(observed.serializer.serialize_message(twin), observed.item)
        if observed.type != self.type:
            diffs = [("type", Text(repr(self.type)), Text(repr(observed.type)))]
            if isinstance(observed.decoded(), _Unreadable):
                return diffs
        else:
            diffs = []
        _payload_of(observed, self)
        return diffs + field_diffs(self._payload(), observed.fields)

    def describe(self, limits: Limits) -> str:
        serializer = self.events.serializer
        if serializer is None:
            return describe(self.label, self._payload(), limits)
        sent = serializer.serialize_message(self.item)
        payload = sent.get("payload") if isinstance(sent, Mapping) else None
        return describe(self.label, _shown_fields(sent, _decode(payload)), limits)


class _EventOfClass(Expectation):
    """Any message of a class: of the message of the event, or by the event's type."""

    __slots__ = ("events", "types")

    def __init__(self, item: Any, index: int, events: _Events) -> None:
        __tracebackhide__ = True
        cls = _class_of(item)
        types = _event_types(cls)
        if not types and events.unsourced:
            raise TypeError(
                f"assert_messages(): {cls.__name__} has no default metadata, so the events "
                "not sent by an eventstream publisher cannot be recognised as its own; expect "
                "an instance instead"
            )
        metadata = _default_metadata(cls)
        label = events.labels.get(cls) or (_event_type(metadata) if metadata else cls.__name__)
        super().__init__(item, index, label)
        self.types = types
        self.events = events

    def _wanted(self) -> str:
        return " or ".join(repr(t) for t in sorted(self.types))

    def _of_class(self, observed: _Event) -> bool:
        if observed.message is not None:
            return isinstance(observed.message, _class_of(self.item))
        return observed.label in self.types

    def accepts(self, observed: Observed) -> bool:
        assert isinstance(observed, _Event)
        return self._of_class(observed)

    def diff(self, observed: Observed) -> list[tuple[str, Any, Any]]:
        assert isinstance(observed, _Event)
        if self._of_class(observed):
            return []
        message = observed.message
        if message is None or (self.types and observed.label == _event_type(message.metadata)):
            return [("type", Text(self._wanted()), Text(repr(observed.type)))]
        wanted = f"{_class_of(self.item).__name__} (or a subclass)"
        return [("class", Text(wanted), Text(type(message).__name__))]

    def describe(self, limits: Limits) -> str:
        shown = f" ({self._wanted()})" if self.types and self.events.messagebus_types else ""
        return f"any {_class_of(self.item).__name__}{shown}"


class _EventLike(_EventOfClass):
    """like(): the fields of the message of the event, or of the event's payload."""

    __slots__ = ()
    item: Like

    def _recorded(self, observed: _Event, name: str) -> Any:
        """The value of field ``name`` in an event no publisher sent."""
        envelope = _ENVELOPE_FIELDS.get(name)
        if envelope is not None and isinstance(observed.item, Mapping):
            key, read = envelope
            value = observed.item.get(key, MISSING)
            try:
                return read(value)
            except (TypeError, ValueError):
                return value
        _payload_of(observed, self)
        return observed.fields.get(name, MISSING)

    def _payload_fields(self) -> dict[str, Any]:
        # The metadata is the event's type, not part of its payload.
        return {name: value for name, value in self.item.fields.items() if name != "metadata"}

    def accepts(self, observed: Observed) -> bool:
        assert isinstance(observed, _Event)
        if not self._of_class(observed):
            return False
        message = observed.message
        if message is not None:
            return all(value == getattr(message, name) for name, value in self.item.fields.items())
        return all(
            _payload_equal(value, self._recorded(observed, name))
            for name, value in self._payload_fields().items()
        )

    def diff(self, observed: Observed) -> list[tuple[str, Any, Any]]:
        assert isinstance(observed, _Event)
        diffs = super().diff(observed)
        message = observed.message
        if message is not None:
            for name, value in self.item.fields.items():
                recorded = getattr(message, name, MISSING)
                # ``==`` with the expected value on the left, as in accepts().
                if recorded is MISSING or not value == recorded:  # noqa: SIM201
                    diffs.append((name, value, recorded))
            return diffs
        if diffs and isinstance(observed.decoded(), _Unreadable):
            # Of another type: its payload is not needed to tell.
            return diffs
        for name, value in self._payload_fields().items():
            recorded = self._recorded(observed, name)
            if not _payload_equal(value, recorded):
                diffs.append((name, value, recorded))
        return diffs

    def describe(self, limits: Limits) -> str:
        return _describe_like(self.item, limits)


def _expect_event(item: Any, index: int, events: _Events) -> Expectation:
    __tracebackhide__ = True
    if isinstance(item, Message):
        return _EventInstance(item, index, events)
    if isinstance(item, Like):
        return _EventLike(item, index, events)
    return _EventOfClass(item, index, events)


def _compare_events(
    items: list[Any], sources: dict[int, Source], expected: Sequence[Any], ordered: bool
) -> tuple[list[str] | None, list[int | None]]:
    __tracebackhide__ = True
    observed = [_Event(event, index, sources.get(id(event))) for index, event in enumerate(items)]
    events = _Events(observed)
    expectations = [_expect_event(item, index, events) for index, item in enumerate(expected)]
    instances = [e for e in expectations if isinstance(e, _EventInstance)]
    if instances:
        # Equal messages are accepted without serializing them.
        dump = dumper()
        for event in observed:
            if event.message is not None:
                event.dump = dump(event.message)
        for instance in instances:
            instance.dump = dump(instance.item)
        if (not ordered or len(expected) != len(items)) and (
            events.serializer is None or not (events.unsourced or events.several)
        ):
            # Matched without order (or a run of them, for lists of different
            # lengths), instances are paired with the events by hashing their
            # values, rather than compared with each event. Events serialized
            # by several serializers, or sent by hand among others, have no
            # value in common: instances are compared with each of them.
            for event in observed:
                event.value = (
                    (event.type, event.decoded())
                    if event.message is None
                    else event.serialized_with(events.ids)
                )
            for instance in instances:
                instance.match_by_value()
    return explain(
        expectations,
        observed,
        ordered=ordered,
        labels=Labels(),
        verbosity=current_verbosity(),
        noun="event",
    )


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
