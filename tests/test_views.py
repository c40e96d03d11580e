"""A store inside a transaction behaves as its container would, and merges on commit.

Random operations are applied both to a plain list, dict or set and to the
transaction's view of a store holding the same contents: they must read the
same after every operation, and the shared store must hold the view's
contents after a commit, its own after a rollback.
"""

from __future__ import annotations

import collections
import copy
import pickle
import threading
from typing import Any, ClassVar, NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_messagebus_eventstore import TransactionConflict, _stores, _transactions
from pytest_messagebus_eventstore.repository import InMemoryRepository


class Tables(InMemoryRepository):
    rows: ClassVar[list[Any]] = []
    index: ClassVar[dict[str, Any]] = {}
    tags: ClassVar[set[int]] = set()
    groups: ClassVar[collections.defaultdict[str, list[int]]] = collections.defaultdict(list)


@pytest.fixture(autouse=True)
def _clean() -> Any:
    _stores.reset_class_level_stores()
    yield
    _stores.reset_class_level_stores()


def _in_transaction(commit: bool, change: Any) -> None:
    transaction = _transactions.Transaction()
    try:
        change()
        if commit:
            transaction.commit()
        else:
            transaction.rollback()
    finally:
        transaction.close()


sequence_ops = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "append",
                "extend",
                "insert",
                "set",
                "del",
                "pop",
                "clear",
                "sort",
                "reverse",
                "iadd",
                "remove",
            ]
        ),
        st.integers(-4, 4),
        st.integers(0, 9),
    ),
    max_size=10,
)


def _apply_sequence(target: Any, op: str, index: int, value: int) -> None:
    size = len(target)
    if op == "append":
        target.append(value)
    elif op == "extend":
        target.extend([value, value + 1])
    elif op == "iadd":
        target += [value]
    elif op == "insert":
        target.insert(index, value)
    elif op == "clear":
        target.clear()
    elif op == "sort":
        target.sort()
    elif op == "reverse":
        target.reverse()
    elif op == "remove" and value in target:
        target.remove(value)
    elif size and op == "set":
        target[index % size] = value
    elif size and op == "del":
        del target[index % size]
    elif size and op == "pop":
        assert target.pop(index % size) is not None


@settings(max_examples=200, deadline=None)
@given(start=st.lists(st.integers(0, 9), max_size=5), ops=sequence_ops, commit=st.booleans())
def test_a_list_store_reads_as_a_list(start: list[int], ops: list[Any], commit: bool) -> None:
    _stores.reset_class_level_stores()
    Tables.rows.extend(start)
    model = list(start)

    def change() -> None:
        view = Tables.rows
        assert isinstance(view, _transactions.SequenceView)
        for op, index, value in ops:
            _apply_sequence(view, op, index, value)
            _apply_sequence(model, op, index, value)
            assert view == model
            assert len(view) == len(model)
            assert view[-1:] == model[-1:]
            assert (value in view) == (value in model)
        assert [*view, 0] == [*model, 0]
        assert view.copy() == model
        assert repr(view) == repr(model)
        assert copy.deepcopy(view) == model

    _in_transaction(commit, change)
    assert Tables.rows == (model if commit else start)


mapping_ops = st.lists(
    st.tuples(
        st.sampled_from(["set", "del", "pop", "setdefault", "update", "clear", "get"]),
        st.sampled_from("abc"),
        st.integers(0, 9),
    ),
    max_size=10,
)


def _apply_mapping(target: Any, op: str, key: str, value: int) -> Any:
    if op == "set":
        target[key] = [value]
    elif op == "del" and key in target:
        del target[key]
    elif op == "pop":
        return target.pop(key, None)
    elif op == "setdefault":
        target.setdefault(key, []).append(value)
    elif op == "update":
        target.update({key: [value]})
    elif op == "clear":
        target.clear()
    return target.get(key)


@settings(max_examples=200, deadline=None)
@given(
    start=st.dictionaries(st.sampled_from("abc"), st.lists(st.integers(0, 9), max_size=2)),
    ops=mapping_ops,
    commit=st.booleans(),
)
def test_a_dict_store_reads_as_a_dict(
    start: dict[str, list[int]], ops: list[Any], commit: bool
) -> None:
    _stores.reset_class_level_stores()
    Tables.index.update(copy.deepcopy(start))
    model = copy.deepcopy(start)

    def change() -> None:
        view = Tables.index
        assert isinstance(view, _transactions.MappingView)
        for op, key, value in ops:
            assert _apply_mapping(view, op, key, value) == _apply_mapping(model, op, key, value)
            assert view == model
            assert sorted(view) == sorted(model)
            assert len(view) == len(model)
            assert ("a" in view) == ("a" in model)
        assert view.copy() == model
        assert view | {"z": 1} == {**model, "z": 1}
        assert eval(repr(view)) == model

    _in_transaction(commit, change)
    assert Tables.index == (model if commit else start)


@settings(max_examples=100, deadline=None)
@given(
    start=st.sets(st.integers(0, 5)),
    ops=st.lists(st.tuples(st.sampled_from(["add", "discard"]), st.integers(0, 5))),
    commit=st.booleans(),
)
def test_a_set_store_reads_as_a_set(start: set[int], ops: list[Any], commit: bool) -> None:
    _stores.reset_class_level_stores()
    Tables.tags |= start
    model = set(start)

    def change() -> None:
        view = Tables.tags
        assert isinstance(view, _transactions.SetView)
        for op, value in ops:
            getattr(view, op)(value)
            getattr(model, op)(value)
            assert set(view) == model
            assert len(view) == len(model)
            assert (value in view) == (value in model)
        assert view.copy() == model

    _in_transaction(commit, change)
    assert Tables.tags == (model if commit else start)


def test_a_defaultdict_store_creates_missing_rows_in_the_transaction() -> None:
    def change() -> None:
        Tables.groups["a"].append(1)
        assert Tables.groups["a"] == [1]

    _in_transaction(False, change)
    assert dict(Tables.groups) == {}
    _in_transaction(True, change)
    assert dict(Tables.groups) == {"a": [1]}


def test_appends_of_two_transactions_merge() -> None:
    Tables.rows.extend([1, 2])
    store = Tables.__dict__["rows"]
    first, second = _transactions.Transaction(), _transactions.Transaction()
    try:
        second_view = Tables.rows  # the innermost: second
        second_view.append(4)
        del second_view[0]  # its own list from now on
        first.view(store).append(3)
        first.commit()
        assert store.container == [1, 2, 3]
        second.commit()
    finally:
        first.close()
        second.close()
    # The second removed row 1 and appended 4, merged with the first's append.
    assert Tables.rows == [2, 3, 4]


def test_a_list_reordered_while_another_committed_conflicts() -> None:
    Tables.rows.extend([1, 2])
    store = Tables.__dict__["rows"]
    first, second = _transactions.Transaction(), _transactions.Transaction()
    try:
        second.view(store).sort(reverse=True)
        first.view(store).append(3)
        first.commit()
        with pytest.raises(TransactionConflict, match=r"Tables\.rows was reordered"):
            second.commit()
    finally:
        first.close()
        second.close()
    assert Tables.rows == [1, 2, 3]


class Point(NamedTuple):
    x: int
    tags: list[str]


class Opaque:
    __slots__ = ("__lock", "unset")

    def __init__(self) -> None:
        self.__lock = threading.Lock()


def test_copies_of_tuples_deques_and_objects_that_cannot_be_copied() -> None:
    point = Point(1, ["a"])
    queue: collections.deque[list[int]] = collections.deque([[1]])
    lock = threading.Lock()
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    Tables.index.update(
        point=point, pair=(1, 2), frozen=frozenset({1}), queue=queue, lock=lock, cyclic=cyclic
    )
    Tables.index["opaque"] = opaque = Opaque()

    def change() -> None:
        view = Tables.index
        assert view["pair"] is Tables.__dict__["index"].container["pair"]
        assert view["frozen"] == frozenset({1})
        assert view["lock"] is lock  # shared as a value: it cannot be copied
        copied = view["point"]
        assert isinstance(copied, Point)
        assert copied is not point
        copied.tags.append("b")
        view["queue"][0].append(2)
        view["queue"].append([3])
        assert view["cyclic"][0] is view["cyclic"]
        assert view["opaque"] is not opaque

    _in_transaction(False, change)
    assert point.tags == ["a"]
    assert list(queue) == [[1]]
    _in_transaction(True, change)
    assert point.tags == ["a", "b"]
    assert list(queue) == [[1, 2], [3]]
    assert Tables.index["point"] is point
    assert Tables.index["cyclic"] is cyclic


class Holder:
    def __init__(self, item: Any) -> None:
        self.item = item


def test_new_rows_that_refer_to_copies_are_stored_with_the_originals() -> None:
    shared_list, shared_set = [1], {1}
    Tables.index.update(a=shared_list, s=shared_set)

    def change() -> None:
        view = Tables.index
        copied = view["a"]
        assert copied is not shared_list
        view["s"].add(2)
        view["in_list"] = [copied]
        view["in_tuple"] = (copied, 1)
        view["in_point"] = Point(1, copied)
        view["in_object"] = Holder(copied)

    _in_transaction(True, change)
    stored = Tables.index
    assert stored["in_list"][0] is shared_list
    assert stored["in_tuple"][0] is shared_list
    assert isinstance(stored["in_point"], Point)
    assert stored["in_point"].tags is shared_list
    assert stored["in_object"].item is shared_list
    assert stored["s"] is shared_set
    assert shared_set == {1, 2}


def test_a_store_read_through_a_repository_belongs_to_its_transaction() -> None:
    outer_repository, inner_repository = Tables(), Tables()
    outer = _transactions.Transaction(repositories=[outer_repository])
    inner = _transactions.Transaction(repositories=[inner_repository])
    try:
        outer_repository.index["outer"] = 1
        inner_repository.index["inner"] = 1
        # Through the class, the innermost transaction.
        assert sorted(Tables.index) == ["inner"]
        inner.commit()
        # Ended, the inner one no longer owns what is read.
        assert sorted(Tables.index) == ["inner", "outer"]
        inner.commit()  # nothing more to do
        outer.rollback()
    finally:
        inner.close()
        outer.close()
    assert Tables.index == {"inner": 1}


def test_a_view_pickles_and_misses_as_its_container() -> None:
    Tables.index["a"] = [1]

    def change() -> None:
        view = Tables.index
        assert pickle.loads(pickle.dumps(view)) == {"a": [1]}
        with pytest.raises(KeyError):
            view["missing"]
        with pytest.raises(KeyError):
            del view["missing"]
        del view["a"]
        with pytest.raises(KeyError):
            view["a"]

    _in_transaction(False, change)
    assert Tables.index == {"a": [1]}


def test_two_transactions_changing_one_row_conflict_by_key_and_in_place() -> None:
    Tables.index["a"] = [1]
    store = Tables.__dict__["index"]
    for change in ("replace", "in place"):
        first, second = _transactions.Transaction(), _transactions.Transaction()
        try:
            for transaction, value in ((first, 2), (second, 3)):
                view = transaction.view(store)
                if change == "replace":
                    view["a"] = [value]
                else:
                    view["a"].append(value)
            first.commit()
            with pytest.raises(TransactionConflict, match=r"Tables\.index\['a'\] was changed"):
                second.commit()
        finally:
            first.close()
            second.close()
    assert Tables.index == {"a": [2, 2]}
