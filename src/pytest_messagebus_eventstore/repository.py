"""The mixin that makes a user's fake repository reset and transactional."""

from __future__ import annotations

from typing import Any

from ._stores import register_class_level_stores


class InMemoryRepository:
    """Mixin for in-memory fake repositories.

    Every mutable container that a subclass declares at class level (a dict,
    list or set, e.g. ``books: ClassVar[dict[UUID, Book]] = {}``) is registered:

    * after each test it goes back to the contents the class declared (empty,
      unless the class declares seed data);
    * an ``InMemoryUnitOfWork`` rollback restores it, and the fields of the
      objects it holds, to their state when the transaction first read it.

    Put it first among the bases::

        class FakeBookRepository(InMemoryRepository, AbstractBookRepository):
            books: ClassVar[dict[UUID, Book]] = {}
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        register_class_level_stores(cls)
