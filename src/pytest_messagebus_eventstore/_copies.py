"""Private copies of stored objects, and writing them back: the data side of a transaction.

A transaction works on copies of the rows it reads, made the first time it
reads them; on commit, each copied object that it changed gets the copy's
state written back in place (so that the objects a test holds stay the ones
the stores hold), and objects it created are stored as they are, with any
reference to a copy replaced by the original.

What is copied, at any depth: dicts, lists, sets and deques (and their
subclasses), tuples and frozensets holding copied objects, and objects with a
``__dict__`` or ``__slots__`` (dataclasses, pydantic models, plain classes,
other collections). Anything else (numbers, strings, UUIDs, datetimes, enums,
classes, functions, objects that cannot be copied) is shared as a value.

This module must not import messagebus: the plugin imports it at start-up.
"""

from __future__ import annotations

import collections
import copy
import datetime
import decimal
import enum
import fractions
import types
import uuid
from typing import Any

# How an object is copied and compared, by type.
ATOM, MAPPING, SEQUENCE, SET, TUPLE, FROZENSET, OBJECT = range(7)

_kinds: dict[type, int] = dict.fromkeys(
    (
        type(None),
        bool,
        int,
        float,
        complex,
        str,
        bytes,
        range,
        uuid.UUID,
        datetime.datetime,
        datetime.date,
        datetime.time,
        datetime.timedelta,
        datetime.timezone,
        decimal.Decimal,
        fractions.Fraction,
        type,
        types.FunctionType,
        types.BuiltinFunctionType,
        types.MethodType,
        types.ModuleType,
    ),
    ATOM,
)
_kinds.update({dict: MAPPING, list: SEQUENCE, set: SET, tuple: TUPLE, frozenset: FROZENSET})
# The slots of each OBJECT type (name-mangled, without __dict__ and __weakref__).
_slots: dict[type, tuple[str, ...]] = {}


def share_as_values(kind: type) -> None:
    """Let instances of ``kind`` (and its subclasses) be shared, never copied.

    For records nobody changes in place: messagebus messages, in the message
    store, keep their identity inside a transaction as outside.
    """
    _kinds[kind] = ATOM
    for known in list(_kinds):
        if issubclass(known, kind):
            _kinds[known] = ATOM


def _slot_names(kind: type) -> tuple[str, ...]:
    names: list[str] = []
    for klass in kind.__mro__:
        declared = klass.__dict__.get("__slots__", ())
        for name in (declared,) if isinstance(declared, str) else declared:
            if name in ("__dict__", "__weakref__"):
                continue
            if name.startswith("__") and not name.endswith("__"):
                name = f"_{klass.__name__.lstrip('_')}{name}"
            names.append(name)
    return tuple(names)


def kind_of(kind: type) -> int:
    found = _kinds.get(kind)
    if found is not None:
        return found
    if issubclass(kind, (enum.Enum, type, BaseException)) or any(
        issubclass(kind, atom) for atom, value in list(_kinds.items()) if value == ATOM
    ):
        found = ATOM
    elif issubclass(kind, dict):
        found = MAPPING
    elif issubclass(kind, (list, collections.deque)):
        found = SEQUENCE
    elif issubclass(kind, set):
        found = SET
    elif issubclass(kind, tuple):
        found = TUPLE
    elif issubclass(kind, frozenset):
        found = FROZENSET
    else:
        # Other collections are copied as the objects they are, through their
        # attributes: a shallow copy of one could share its storage.
        _slots[kind] = _slot_names(kind)
        found = OBJECT if _slots[kind] or kind.__dictoffset__ else ATOM
    _kinds[kind] = found
    return found


_State = tuple["dict[str, Any] | None", list[tuple[str, Any]]]


def _state(obj: Any) -> _State:
    """The attributes of an OBJECT: its ``__dict__`` (None without one), and its set slots."""
    fields = getattr(obj, "__dict__", None)
    slots = []
    for name in _slots[type(obj)]:
        try:
            slots.append((name, getattr(obj, name)))
        except AttributeError:
            continue
    return (fields if type(fields) is dict else None), slots


# The number of the last commit, which the transactions keep: a copy made
# after it has seen what it wrote.
last_commit = 0


class Copies:
    """The private copies one transaction made, by original, and the way back."""

    __slots__ = ("_adopted", "by_copy", "by_original")

    def __init__(self) -> None:
        # id(original) -> [original, copy, when it was copied, the copy's
        # contents then], in copying order; the entries keep both alive, so
        # that an id cannot be reused while it is looked up.
        self.by_original: dict[int, list[Any]] = {}
        self.by_copy: dict[int, tuple[Any, Any]] = {}
        self._adopted: dict[int, Any] = {}

    def __bool__(self) -> bool:
        return bool(self.by_original)

    def private(self, obj: Any) -> Any:
        """This transaction's copy of ``obj``, made now if it has none yet."""
        kind = _kinds.get(type(obj))
        if kind is None:
            kind = kind_of(type(obj))
        if kind == ATOM:
            return obj
        entry = self.by_original.get(id(obj))
        if entry is not None and entry[0] is obj:
            return entry[1]
        copied = self.by_copy.get(id(obj))
        if copied is not None and copied[0] is obj:
            return obj
        return self._copy(obj, kind)

    def _remember(self, obj: Any, duplicate: Any) -> list[Any]:
        entry = self.by_original[id(obj)] = [obj, duplicate, last_commit, None]
        self.by_copy[id(duplicate)] = (duplicate, obj)
        return entry

    def _copy(self, obj: Any, kind: int) -> Any:
        private = self.private
        kinds = _kinds

        def copied(value: Any) -> Any:
            return value if kinds.get(type(value)) == ATOM else private(value)

        if kind in (TUPLE, FROZENSET):
            items = [copied(item) for item in obj]
            if all(item is original for item, original in zip(items, obj, strict=False)):
                return obj
            make = getattr(obj, "_make", None)
            duplicate = make(items) if make is not None else type(obj)(items)
            self._remember(obj, duplicate)
            return duplicate
        try:
            duplicate = _empty_like(obj, kind)
        except Exception:
            # An object that cannot be copied is shared as a value.
            _kinds[type(obj)] = ATOM
            return obj
        # Remembered before its contents are copied: they may refer back to it.
        entry = self._remember(obj, duplicate)
        if kind == MAPPING:
            for key, value in list(obj.items()):
                duplicate[key] = copied(value)
        elif kind == SEQUENCE:
            duplicate.extend([copied(item) for item in obj])
        elif kind == SET:
            duplicate |= obj
        else:
            fields, slots = _state(obj)
            if fields is not None:
                object.__setattr__(
                    duplicate, "__dict__", {name: copied(value) for name, value in fields.items()}
                )
            for name, value in slots:
                object.__setattr__(duplicate, name, copied(value))
        # What the copy holds now: a change shows as a difference from it.
        entry[3] = _contents(duplicate, kind)
        return duplicate

    def original(self, value: Any) -> Any:
        """What to store for ``value``: the original of a copy, else ``value`` itself.

        An object the transaction created is stored as it is, once any copy it
        refers to has been replaced by its original.
        """
        kind = _kinds.get(type(value))
        if kind is None:
            kind = kind_of(type(value))
        if kind == ATOM:
            return value
        entry = self.by_copy.get(id(value))
        if entry is not None and entry[0] is value:
            return entry[1]
        if self.by_copy:
            return self._adopt(value, kind)
        return value

    def _adopt(self, value: Any, kind: int) -> Any:
        if id(value) in self._adopted:
            return value
        self._adopted[id(value)] = value
        original = self.original
        if kind == MAPPING:
            for key, item in list(value.items()):
                restored = original(item)
                if restored is not item:
                    value[key] = restored
        elif kind == SEQUENCE:
            items = list(value)
            restored_items = [original(item) for item in items]
            if any(a is not b for a, b in zip(items, restored_items, strict=False)):
                value.clear()
                value.extend(restored_items)
        elif kind in (TUPLE, FROZENSET):
            restored_items = [original(item) for item in value]
            if any(a is not b for a, b in zip(value, restored_items, strict=False)):
                make = getattr(value, "_make", None)
                return make(restored_items) if make is not None else type(value)(restored_items)
        elif kind == OBJECT:
            fields, slots = _state(value)
            for name, item in list(fields.items()) if fields is not None else ():
                restored = original(item)
                if restored is not item:
                    fields[name] = restored  # type: ignore[index]
            for name, item in slots:
                restored = original(item)
                if restored is not item:
                    object.__setattr__(value, name, restored)
        return value

    def changed(self, entry: list[Any]) -> bool:
        """Whether the transaction changed a copy (one level deep), from its entry.

        The copy's contents are compared with what they were once copied: by
        identity first, then by equality, so a value replaced by an equal one
        is no change. Both comparisons run in C, for builtin containers.
        """
        _, duplicate, _, contents = entry
        kind = _kinds[type(duplicate)]
        if kind in (TUPLE, FROZENSET):
            return False
        return bool(_contents(duplicate, kind) != contents)

    def write_back(self, obj: Any, duplicate: Any) -> None:
        """Give ``obj`` the state of its copy, in place."""
        kind = kind_of(type(obj))
        original = self.original
        if kind == MAPPING:
            items = [(key, original(value)) for key, value in duplicate.items()]
            obj.clear()
            obj.update(items)
        elif kind == SEQUENCE:
            items = [original(value) for value in duplicate]
            if isinstance(obj, list):
                obj[:] = items
            else:
                obj.clear()
                obj.extend(items)
        elif kind == SET:
            obj.clear()
            obj |= duplicate
        elif kind == OBJECT:
            (fields, slots), (copied_fields, copied_slots) = _state(obj), _state(duplicate)
            if fields is not None and copied_fields is not None:
                items = [(name, original(value)) for name, value in copied_fields.items()]
                fields.clear()
                fields.update(items)
            kept = {name for name, _ in copied_slots}
            for name, _ in slots:
                if name not in kept:
                    object.__delattr__(obj, name)
            for name, value in copied_slots:
                object.__setattr__(obj, name, original(value))


def _contents(obj: Any, kind: int) -> Any:
    """A shallow copy of what ``obj`` holds, to compare with later."""
    if kind == MAPPING:
        return dict(obj)
    if kind == SEQUENCE:
        return list(obj)
    if kind == SET:
        return set(obj)
    if kind == OBJECT:
        fields, slots = _state(obj)
        return (None if fields is None else dict(fields)), slots
    return None


def _empty_like(obj: Any, kind: int) -> Any:
    """A new object of the type of ``obj``, empty or without state."""
    if kind == OBJECT:
        duplicate = object.__new__(type(obj))
        if isinstance(getattr(obj, "__dict__", None), dict):
            object.__setattr__(duplicate, "__dict__", {})
        return duplicate
    if type(obj) in (dict, list, set):
        return type(obj)()
    duplicate = copy.copy(obj)
    duplicate.clear()
    return duplicate
