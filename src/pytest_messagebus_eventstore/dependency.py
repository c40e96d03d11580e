"""Bases for fake bus dependencies (a mailer, a notifier) with commit semantics.

A handler sends through its dependency while its transaction runs; a real
mailer must not send a mail for a transaction that then rolls back. The fakes
keep what is sent pending on the instance, deliver it to a class-level
``outbox`` when messagebus calls ``on_after_commit``, and drop it on
``on_after_rollback``. The outbox, and any other class-level container a fake
declares, goes back to its baseline after each test, as the containers of an
``InMemoryRepository`` do, but is outside every transaction.
"""

from __future__ import annotations

import functools
from types import MethodType
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, overload

from messagebus import AsyncDependency, SyncDependency

from . import _recorder
from ._stores import ClassLevelStore, StoreMeta, register_class_level_stores

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["InMemoryDependency", "SyncInMemoryDependency"]


class _OutsideTransactions(ClassLevelStore[Any]):
    """A container of a fake dependency: reset after each test, outside every transaction.

    Read inside a transaction, a repository's store is that transaction's
    view. A dependency is not the database: what it delivered or recorded is
    the shared container itself, and a rollback does not take it back.
    """

    __slots__ = ()

    def __get__(self, instance: object | None, owner: type) -> Any:
        return self.container


class _Outbox(_OutsideTransactions):
    """A fake's ``outbox``: a list, in the order of delivery."""

    __slots__ = ()

    def __init__(self, owner: type, name: str, container: list[Any]) -> None:
        __tracebackhide__ = True
        _check_outbox(owner, container)
        super().__init__(owner, name, container)

    def replace(self, container: Any) -> None:
        __tracebackhide__ = True
        _check_outbox(self.owner, container)
        super().replace(container)


def _check_outbox(owner: type, container: object) -> None:
    __tracebackhide__ = True
    if not isinstance(container, list):
        raise TypeError(
            f"{owner.__qualname__}.outbox must be a list (what the fake delivered, in "
            f"order), got {type(container).__name__}: declare it as "
            "outbox: ClassVar[list[...]] = [], or leave it out."
        )


class _Pending:
    """``self.pending``: the instance's own list, made the first time it is read.

    Made here rather than in ``__init__``, so that a subclass whose ``__init__``
    does not call ``super().__init__()`` (a dataclass, say) has one too.
    """

    @overload
    def __get__(self, instance: None, owner: type) -> _Pending: ...
    @overload
    def __get__(self, instance: object, owner: type) -> list[Any]: ...
    def __get__(self, instance: object | None, owner: type) -> _Pending | list[Any]:
        if instance is None:
            return self
        pending: list[Any] = []
        # An instance attribute from now on: later reads do not come here.
        instance.__dict__["pending"] = pending
        return pending


class _SentFromInstances:
    """``send_on_commit``: a method of the instances, that says so when called on the class.

    Called on the class, ``FakeMailer.send_on_commit(item)`` would take the
    item for the instance, and Python would only say that an argument is
    missing.
    """

    def __init__(self, function: Callable[[Any, Any], None]) -> None:
        self.function = function
        self.__doc__ = function.__doc__

    @overload
    def __get__(self, instance: None, owner: type) -> Callable[..., None]: ...
    @overload
    def __get__(self, instance: object, owner: type) -> Callable[[Any], None]: ...
    def __get__(self, instance: object | None, owner: type) -> Callable[..., None]:
        if instance is not None:
            return MethodType(self.function, instance)
        function = self.function

        @functools.wraps(function)
        def on_the_class(*args: Any, **kwargs: Any) -> None:
            __tracebackhide__ = True
            # FakeMailer.send_on_commit(mailer, item), as an override may call it.
            if args and isinstance(args[0], owner):
                function(*args, **kwargs)
                return
            name = owner.__name__
            raise TypeError(
                f"{name}.send_on_commit() was called on the class: a fake sends through an "
                "instance, whose items wait for the transaction it takes part in (only the "
                "outbox is the class's). In a handler, send through the dependency the bus "
                f"passes it; in a test, through an instance: {name}().send_on_commit(item)."
            )

        return on_the_class


def _running_transaction() -> Any:
    """The messagebus transaction running in this task, if it may still commit or roll back.

    None outside any, and once it has committed or rolled back (its
    ``on_after_commit`` hooks run then, and so does the rest of its block).
    """
    for transaction in reversed(_recorder._transactions.get()):
        status = transaction.status.name
        if status != "closed":
            return transaction if status in _recorder.UNFINISHED else None
    return None


class _InMemoryDependencyBase(metaclass=StoreMeta):
    """What both flavours share; see :class:`InMemoryDependency`."""

    # Each subclass gets its own (see __init_subclass__).
    outbox: ClassVar[list[Any]]
    pending = _Pending()
    _dependencies_fixture: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        __tracebackhide__ = True
        super().__init_subclass__(**kwargs)
        # Declared or not: a mailer's outbox is not a notifier's.
        declared = cls.__dict__.get("outbox", [])
        type.__setattr__(cls, "outbox", _Outbox(cls, "outbox", declared))
        register_class_level_stores(cls, _OutsideTransactions)

    @_SentFromInstances
    def send_on_commit(self, item: Any) -> None:
        """Deliver ``item`` to ``outbox`` when the running transaction commits.

        Until then it waits in ``self.pending``; a rollback drops it. Sent
        outside a transaction, or after the transaction committed or rolled
        back, it is delivered at once, as a real mailer would send it.
        """
        if not _recorder._installed:
            # The plugin is not recording (not in a test): no way to tell
            # whether a transaction runs, so it waits for one to end.
            self.pending.append(item)
            return
        transaction = _running_transaction()
        if transaction is None:
            self.outbox.append(item)
            return
        self.pending.append(item)
        # A fake the bus did not make (a handler called directly) still hears
        # of the commit or rollback of the transaction it sent in.
        if not any(hook is self for hook in getattr(transaction, "_hooks", ())):
            transaction.add_listener(self)

    def _deliver(self) -> None:
        pending = self.pending
        if pending:
            self.outbox.extend(pending)
            pending.clear()

    def _drop(self) -> None:
        self.pending.clear()

    def __call__(self, *args: object, **kwargs: object) -> NoReturn:
        __tracebackhide__ = True
        name = type(self).__name__
        fixture = self._dependencies_fixture
        raise TypeError(
            f"a {name} instance was called: the bus calls the classes that {fixture} maps "
            f"handler parameters to, to make one instance per handle. Map the parameter to "
            f"the class ({{'mailer': {name}}}), not to an instance ({{'mailer': {name}()}}); "
            "to give one instance to one call, pass it as "
            "bus.handle(command, transaction, mailer=instance)."
        )


class InMemoryDependency(_InMemoryDependencyBase, AsyncDependency):
    """Base for async fake dependencies: what is sent is delivered on commit only.

    A subclass sends with :meth:`send_on_commit`; what a handler sends during a
    transaction waits in the instance's ``pending`` list, goes to the class's
    ``outbox`` list, in order, when messagebus calls :meth:`on_after_commit`,
    and is dropped on :meth:`on_after_rollback`. Each subclass has its own
    ``outbox`` (declare ``outbox: ClassVar[list[...]] = []`` to type it). The
    outbox, and any other class-level container the fake declares (a log of
    its calls, say), goes back to its baseline after each test, and is outside
    every transaction: a rollback never takes back what is in it::

        class FakeMailer(InMemoryDependency, AbstractMailer):
            outbox: ClassVar[list[tuple[str, str]]] = []

            def send(self, to: str, subject: str) -> None:
                self.send_on_commit((to, subject))

    An override of ``on_after_commit`` or ``on_after_rollback`` calls
    ``super()``'s to keep this behaviour.
    """

    _dependencies_fixture = "messagebus_dependencies"

    async def on_after_commit(self) -> None:
        """Deliver what is pending to ``outbox``."""
        self._deliver()

    async def on_after_rollback(self) -> None:
        """Drop what is pending."""
        self._drop()


class SyncInMemoryDependency(_InMemoryDependencyBase, SyncDependency):
    """Sync twin of :class:`InMemoryDependency`, for ``sync_bus`` handlers."""

    _dependencies_fixture = "messagebus_sync_dependencies"

    def on_after_commit(self) -> None:
        """Deliver what is pending to ``outbox``."""
        self._deliver()

    def on_after_rollback(self) -> None:
        """Drop what is pending."""
        self._drop()
