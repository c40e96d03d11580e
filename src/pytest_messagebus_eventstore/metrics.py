"""An in-memory metrics store, for tests to read what messagebus counted.

messagebus (0.14 and later) tells the ``metrics_store`` of a unit of work when
a transaction begins, fails and ends, when the bus processes a message, and how
long each command took. :class:`InMemoryMetricsStore` keeps those counts for a
test to assert on; the plugin's units of work and the ``messagebus_metrics``
fixture use it. Importing this module on messagebus 0.12 or 0.13 raises
``ImportError``.
"""

from __future__ import annotations

from collections import Counter
from time import perf_counter
from typing import TYPE_CHECKING, Any

from messagebus import Metadata

from ._metrics import MESSAGEBUS_VERSION, METRICS_STORE_BASE
from ._render import type_name

if TYPE_CHECKING:
    from messagebus import GenericCommand, Message, TransactionStatus
    from messagebus.ports.observability import AbstractMetricsStore
else:
    if METRICS_STORE_BASE is None:
        raise ImportError(
            f"InMemoryMetricsStore needs messagebus 0.14 or later (this is {MESSAGEBUS_VERSION})"
        )
    AbstractMetricsStore = METRICS_STORE_BASE
    # Not in messagebus 0.12's top-level package: imported once the version is checked.
    from messagebus import TransactionStatus

__all__ = ["InMemoryMetricsStore"]

_COMMITTED = TransactionStatus.committed
_ROLLED_BACK = TransactionStatus.rolledback


class InMemoryMetricsStore(AbstractMetricsStore):
    """What messagebus counted, in memory.

    ``transactions`` counts them by status: ``"begun"``, ``"failed"`` (the
    block raised), ``"committed"`` and ``"rolled back"``; a status never seen
    is left out, so ``metrics.transactions == {"begun": 1, "committed": 1}``
    holds after one committed transaction. ``messages_processed`` counts the
    messages the bus processed by ``(name, schema_version)``, and
    ``processing_seconds`` lists each command's handling time by the same key.
    Each read of these three is a copy of the counts at that moment:
    ``metrics.transactions - before`` is what happened since ``before``.
    """

    def __init__(self) -> None:
        self._transactions: dict[str, int] = {}
        # Kept as messagebus reports them, and counted when read: it reports
        # every message the bus handles, and a test reads a few counts.
        self._processed: list[Metadata] = []
        self._timed: list[tuple[Metadata, float]] = []

    def inc_beginned_transaction_count(self) -> None:
        counts = self._transactions
        counts["begun"] = counts.get("begun", 0) + 1

    def inc_transaction_failed(self) -> None:
        counts = self._transactions
        counts["failed"] = counts.get("failed", 0) + 1

    def inc_transaction_closed_count(self, status: TransactionStatus) -> None:
        # By identity: hashing an enum member is a Python call.
        if status is _COMMITTED:
            key = "committed"
        elif status is _ROLLED_BACK:
            key = "rolled back"
        else:
            key = status.value
        counts = self._transactions
        counts[key] = counts.get(key, 0) + 1

    def inc_messages_processed_total(self, msg_metadata: Metadata) -> None:
        self._processed.append(msg_metadata)

    # A class rather than messagebus's @contextmanager: a generator-based
    # context manager costs each command a microsecond more.
    def command_processing_timer(self, command: GenericCommand[Any]) -> _Timer:  # type: ignore[override]
        return _Timer(self._timed, command.metadata)

    @property
    def transactions(self) -> Counter[str]:
        """The transactions by status: begun, failed, committed, rolled back."""
        return Counter(self._transactions)

    @property
    def in_progress(self) -> int:
        """The transactions begun and not closed yet."""
        counts = self._transactions
        begun = counts.get("begun", 0)
        closed = sum(counts.values()) - begun - counts.get("failed", 0)
        return begun - closed

    @property
    def messages_processed(self) -> Counter[tuple[str, int]]:
        """The messages the bus processed, by ``(name, schema_version)``."""
        return Counter([(metadata.name, metadata.schema_version) for metadata in self._processed])

    @property
    def processing_seconds(self) -> dict[tuple[str, int], list[float]]:
        """Each command's handling time in seconds, by ``(name, schema_version)``, in order."""
        seconds: dict[tuple[str, int], list[float]] = {}
        for metadata, elapsed in self._timed:
            seconds.setdefault((metadata.name, metadata.schema_version), []).append(elapsed)
        return seconds

    def processed(
        self, message: type[Message[Any]] | Message[Any] | str, version: int | None = None
    ) -> int:
        """How many messages of a class, of an instance's kind, or of a name were processed.

        A class or an instance counts under its metadata's name and version;
        a name counts under all versions, or only ``version``.
        """
        name, version = _selected("processed", message, version)
        return sum(1 for metadata in self._processed if _matches(metadata, name, version))

    def processing_times(
        self, command: type[Message[Any]] | Message[Any] | str, version: int | None = None
    ) -> list[float]:
        """The handling times of a command class, an instance's kind, or a command name, in order.

        A name without ``version`` selects every version's.
        """
        name, version = _selected("processing_times", command, version)
        return [elapsed for metadata, elapsed in self._timed if _matches(metadata, name, version)]

    def _counted(self) -> tuple[dict[str, int], int, int]:
        """What was counted so far, for :meth:`_back_to`."""
        return dict(self._transactions), len(self._processed), len(self._timed)

    def _back_to(self, counted: tuple[dict[str, int], int, int]) -> None:
        """Forget what was counted since ``counted``: a hypothesis example starts afresh."""
        transactions, processed, timed = counted
        self._transactions = dict(transactions)
        del self._processed[processed:]
        del self._timed[timed:]

    def __repr__(self) -> str:
        if not (self._transactions or self._processed):
            return f"<{type(self).__name__}: nothing counted>"
        transactions = ", ".join(f"{status} {n}" for status, n in self._transactions.items())
        messages = ", ".join(f"{name} v{v} {n}" for (name, v), n in self.messages_processed.items())
        return (
            f"<{type(self).__name__} transactions: {transactions or 'none'}; "
            f"processed: {messages or 'none'}>"
        )


class _Timer:
    """Times the handling of one command, for ``command_processing_timer``."""

    __slots__ = ("_metadata", "_start", "_timed")
    _start: float

    def __init__(self, timed: list[tuple[Metadata, float]], metadata: Metadata) -> None:
        self._timed = timed
        self._metadata = metadata

    def __enter__(self) -> None:
        self._start = perf_counter()

    def __exit__(self, *exc_info: object) -> None:
        # Also when the command raised, as messagebus's Prometheus store does.
        self._timed.append((self._metadata, perf_counter() - self._start))


def _matches(metadata: Metadata, name: str, version: int | None) -> bool:
    return metadata.name == name and (version is None or metadata.schema_version == version)


def _selected(method: str, message: Any, version: int | None) -> tuple[str, int | None]:
    """The name and version (None: any) that a reader's arguments select."""
    __tracebackhide__ = True
    if isinstance(message, str):
        return message, version
    if isinstance(message, type):
        field = (getattr(message, "model_fields", None) or {}).get("metadata")
        metadata = getattr(field, "default", None)
        if not isinstance(metadata, Metadata) and field is not None:
            raise TypeError(
                f"{method}({message.__name__}): the class declares no default metadata; "
                f"pass the message name instead, {method}('name')."
            )
    else:
        metadata = getattr(message, "metadata", None)
    if not isinstance(metadata, Metadata):
        raise TypeError(
            f"{method}() expects a message class, a message or a message name, "
            f"got {type_name(message)}."
        )
    if version is not None:
        raise TypeError(
            f"{method}({_shown(message)}, version={version}): a message class or instance "
            f"has its version ({metadata.schema_version}); give version= with a message "
            f"name: {method}({metadata.name!r}, version={version})."
        )
    return metadata.name, metadata.schema_version


def _shown(message: Any) -> str:
    return message.__name__ if isinstance(message, type) else f"{type(message).__name__}(...)"
