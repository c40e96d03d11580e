"""Mail to the members, sent only once the transaction that wants it commits."""

from __future__ import annotations

import abc

from messagebus import AsyncDependency


class AbstractMailer(AsyncDependency):
    """A messagebus dependency: the bus creates one per handled command."""

    @abc.abstractmethod
    def send(self, to: str, subject: str) -> None:
        """Queue a mail, delivered when the transaction commits."""
