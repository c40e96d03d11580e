"""InMemoryUnitOfWork: construction, store aliases and transactional fakes."""

from __future__ import annotations

import re
from typing import Any, ClassVar
from unittest.mock import Mock

import pytest
from messagebus import AsyncAbstractRepository, Metadata, Model, SyncAbstractRepository

from pytest_messagebus_eventstore import (
    InMemoryEventstoreRepository,
    InMemoryRepository,
    InMemoryUnitOfWork,
    SyncInMemoryEventstoreRepository,
    SyncInMemoryUnitOfWork,
)


class Shelf(Model):
    name: str
    books: list[str] = []


class ShelfRepository(InMemoryRepository, AsyncAbstractRepository[Shelf]):
    shelves: ClassVar[dict[str, Shelf]] = {}
    names: ClassVar[list[str]] = []
    labels: ClassVar[set[str]] = set()


class SyncShelfRepository(InMemoryRepository, SyncAbstractRepository[Shelf]):
    shelves: ClassVar[dict[str, Shelf]] = {}


def test_repositories_are_attributes_found_by_collect_new_events() -> None:
    uow = InMemoryUnitOfWork(shelves=ShelfRepository())
    shelf = Shelf(name="a")
    event = _event()
    shelf.messages.append(event)
    uow.shelves.seen.append(shelf)
    assert list(uow.collect_new_events()) == [event]


def test_an_object_claiming_a_repository_class_is_a_repository_but_not_remembered() -> None:
    # isinstance trusts __class__, as a Mock(spec=...) sets it; the answer kept
    # per type must not make every Mock a repository.
    claiming = Mock(spec=ShelfRepository)
    claiming.seen = []
    uow = InMemoryUnitOfWork(shelves=claiming, other=ShelfRepository())
    assert list(uow._iter_repositories()) == [claiming, uow.other]
    assert type(claiming) not in InMemoryUnitOfWork._repository_types
    assert InMemoryUnitOfWork._repository_types[ShelfRepository] is True


def test_store_is_reachable_under_both_names() -> None:
    store = InMemoryEventstoreRepository()
    uow = InMemoryUnitOfWork(eventstore=store)
    assert uow.eventstore is store
    assert uow.messagestore is store
    assert InMemoryUnitOfWork(messagestore=store).eventstore is store
    other = InMemoryEventstoreRepository()
    uow.eventstore = other
    assert uow.messagestore is other
    uow.messagestore = store
    assert uow.eventstore is store


def test_default_store_is_a_fresh_in_memory_store_without_publisher() -> None:
    first, second = InMemoryUnitOfWork(), InMemoryUnitOfWork()
    assert isinstance(first.eventstore, InMemoryEventstoreRepository)
    assert first.eventstore is not second.eventstore
    assert first.eventstore.publisher is None
    assert isinstance(SyncInMemoryUnitOfWork().eventstore, SyncInMemoryEventstoreRepository)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"books": 42},
            "InMemoryUnitOfWork(books=...) expects a repository (an instance of "
            "AsyncAbstractRepository), got int 42.",
        ),
        (
            {"books": ShelfRepository},
            "InMemoryUnitOfWork(books=...) expects a repository (an instance of "
            "AsyncAbstractRepository), got the class ShelfRepository. "
            "Pass an instance: books=ShelfRepository().",
        ),
        (
            {"books": SyncShelfRepository()},
            "InMemoryUnitOfWork(books=...) got a sync repository (SyncShelfRepository is "
            "a subclass of SyncAbstractRepository); use SyncInMemoryUnitOfWork for sync "
            "repositories.",
        ),
        (
            {"commit": ShelfRepository()},
            "InMemoryUnitOfWork(commit=...) clashes with InMemoryUnitOfWork.commit; "
            "give the repository another name.",
        ),
        (
            {"metrics_store": ShelfRepository()},
            "InMemoryUnitOfWork(metrics_store=...) got the repository ShelfRepository: "
            "metrics_store is reserved for the metrics store; give the repository another name.",
        ),
        (
            {"_books": ShelfRepository()},
            "InMemoryUnitOfWork(_books=...): a repository name must not start with an "
            "underscore; those names belong to the unit of work.",
        ),
        (
            {"eventstore": SyncInMemoryEventstoreRepository()},
            "InMemoryUnitOfWork(eventstore=...) expects an async message store (an "
            "instance of AsyncAbstractMessageStoreRepository), got "
            "SyncInMemoryEventstoreRepository.",
        ),
        (
            {"eventstore": InMemoryEventstoreRepository(), "messagestore": object()},
            "InMemoryUnitOfWork() got both eventstore= and messagestore=; they are the same "
            "store under its messagebus 0.12 and 0.13+ names, pass one.",
        ),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, Any], message: str) -> None:
    if "metrics_store" in kwargs and not hasattr(InMemoryUnitOfWork, "metrics_store"):
        pytest.skip("messagebus 0.12 units of work have no metrics_store")
    from pytest_messagebus_eventstore._compat import AsyncAbstractMessageStoreRepository

    message = message.replace(
        "AsyncAbstractMessageStoreRepository", AsyncAbstractMessageStoreRepository.__name__
    )
    with pytest.raises(TypeError, match=f"^{re.escape(message)}$"):
        InMemoryUnitOfWork(**kwargs)


def test_sync_unit_of_work_refuses_async_repositories() -> None:
    with pytest.raises(TypeError, match=r"got a async repository .* use InMemoryUnitOfWork"):
        SyncInMemoryUnitOfWork(shelves=ShelfRepository())


def _event() -> Any:
    from messagebus import Event

    class ShelfBuilt(Event):
        name: str = "a"
        metadata: Metadata = Metadata(name="shelf_built", schema_version=1)

    return ShelfBuilt()


@pytest.mark.asyncio
async def test_commit_keeps_what_the_transaction_wrote() -> None:
    uow = InMemoryUnitOfWork(shelves=ShelfRepository())
    async with uow as transaction:
        transaction.shelves.shelves["a"] = Shelf(name="a")
        await transaction.commit()
    assert list(ShelfRepository.shelves) == ["a"]


@pytest.mark.asyncio
async def test_rollback_restores_stores_and_in_place_changes() -> None:
    kept = Shelf(name="kept", books=["one"])
    ShelfRepository.shelves["kept"] = kept
    ShelfRepository.names.append("kept")
    uow = InMemoryUnitOfWork(shelves=ShelfRepository())
    with pytest.raises(RuntimeError):
        async with uow as transaction:
            shelf = transaction.shelves.shelves["kept"]
            shelf.name = "renamed"
            shelf.books.append("two")
            transaction.shelves.shelves["new"] = Shelf(name="new")
            transaction.shelves.names.append("new")
            transaction.shelves.labels.add("x")
            await transaction.messagestore.add(_event())
            raise RuntimeError("handler failed")
    assert ShelfRepository.shelves == {"kept": kept}
    assert kept.name == "kept"
    assert kept.books == ["one"]
    assert ShelfRepository.names == ["kept"]
    assert ShelfRepository.labels == set()
    assert InMemoryEventstoreRepository.messages == []


@pytest.mark.asyncio
async def test_rollback_drops_pending_models_and_never_publishes_their_messages() -> None:
    from messagebus import AsyncEventstreamPublisher

    from pytest_messagebus_eventstore import InMemoryEventstreamTransport

    transport = InMemoryEventstreamTransport()
    store = InMemoryEventstoreRepository(publisher=AsyncEventstreamPublisher(transport))
    uow = InMemoryUnitOfWork(eventstore=store, shelves=ShelfRepository())
    published = _event().model_copy(
        update={"metadata": Metadata(name="shelf_built", schema_version=1, published=True)}
    )
    async with uow as transaction:
        pending = Shelf(name="pending")
        pending.messages.append(published)
        transaction.shelves.seen.append(pending)
        await transaction.messagestore.add(published)
        await transaction.rollback()
    assert uow.shelves.seen == []
    assert pending.messages == []
    assert store.stream_buffer == []

    async with uow as transaction:
        await transaction.commit()
    assert transport.events == []


@pytest.mark.asyncio
async def test_rollback_after_commit_changes_nothing() -> None:
    uow = InMemoryUnitOfWork(shelves=ShelfRepository())
    async with uow as transaction:
        transaction.shelves.shelves["a"] = Shelf(name="a")
        await transaction.commit()
        await uow.rollback()
    assert list(ShelfRepository.shelves) == ["a"]


@pytest.mark.asyncio
async def test_block_left_without_commit_rolls_back() -> None:
    uow = InMemoryUnitOfWork(shelves=ShelfRepository())
    with pytest.raises(RuntimeError, match="Missing commit/rollback call"):
        async with uow as transaction:
            transaction.shelves.shelves["a"] = Shelf(name="a")
    assert ShelfRepository.shelves == {}


@pytest.mark.asyncio
async def test_a_transaction_copies_only_the_rows_it_reads() -> None:
    from pytest_messagebus_eventstore import _transactions

    shelves = {name: Shelf(name=name) for name in "abc"}
    ShelfRepository.shelves.update(shelves)
    async with InMemoryUnitOfWork(shelves=ShelfRepository()) as transaction:
        (open_transaction,) = _transactions.open_transactions
        assert open_transaction.views == {}
        assert "a" in transaction.shelves.shelves
        assert not open_transaction.copies
        transaction.shelves.shelves["b"].books.append("x")
        # Shelf "b", its list of books and the rest of its state: nothing of "a" or "c".
        copied = [entry[0] for entry in open_transaction.copies.by_original.values()]
        assert copied[:2] == [shelves["b"], shelves["b"].books]
        others = [vars(shelves["a"]), vars(shelves["c"]), shelves["a"], shelves["c"]]
        assert not any(obj is other for obj in copied for other in others)
        assert shelves["b"].books == []
        await transaction.commit()
    assert _transactions.open_transactions == []
    assert ShelfRepository.shelves["b"].books == ["x"]


def test_sync_rollback_restores_stores() -> None:
    uow = SyncInMemoryUnitOfWork(shelves=SyncShelfRepository())
    with pytest.raises(RuntimeError), uow as transaction:
        transaction.shelves.shelves["a"] = Shelf(name="a")
        transaction.messagestore.add(_event())
        raise RuntimeError
    assert SyncShelfRepository.shelves == {}
    assert SyncInMemoryEventstoreRepository.messages == []
