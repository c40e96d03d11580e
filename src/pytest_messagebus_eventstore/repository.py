"""The mixin that makes a user's fake repository reset and transactional."""

from __future__ import annotations

from typing import Any

from ._stores import StoreMeta, register_class_level_stores


class InMemoryRepository(metaclass=StoreMeta):
    """Mixin for in-memory fake repositories.

    Every mutable container that a subclass declares at class level (a dict,
    list or set, e.g. ``books: ClassVar[dict[UUID, Book]] = {}``) is a store:

    * inside a transaction of an ``InMemoryUnitOfWork``, it reads as that
      transaction's own view: rows are copied when first read, and nothing the
      transaction writes is seen elsewhere until it commits (read committed);
    * after each test it goes back to the contents the class declares (empty,
      unless the class declares seed data), plus what wider-scoped fixtures
      arranged.

    A subclass that does not declare a container of its own shares its
    parent's, as a subclass shares any class attribute; one that declares it
    has its own. A container inherited from a base that is not a subclass of
    this mixin would be neither reset nor isolated: defining the class raises
    ``TypeError``. Put the mixin first among the bases::

        class FakeBookRepository(InMemoryRepository, AbstractBookRepository):
            books: ClassVar[dict[UUID, Book]] = {}
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        __tracebackhide__ = True
        super().__init_subclass__(**kwargs)
        register_class_level_stores(cls)
