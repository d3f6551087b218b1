"""The domain error tree.

Rule and store code raise these; the callable edge maps each class to one
Firebase callable error code (see ``entrypoints/edge.py``). Anything else that escapes
a handler is a bug and reaches the client as ``internal``.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error a client is meant to see."""

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidArgument(DomainError):
    """The request is malformed regardless of the state of the system."""


class Unauthenticated(DomainError):
    """No verified caller."""


class PermissionDenied(DomainError):
    """The caller is known but may not do this."""


class NotFound(DomainError):
    """A referenced document does not exist."""


class FailedPrecondition(DomainError):
    """The request is valid but the current state forbids it."""


class ResourceExhausted(DomainError):
    """The caller has run out of something (credits, quota)."""


class Unavailable(DomainError):
    """A service the call depends on cannot be reached now; the client should retry."""


class Contended(DomainError):
    """Too many concurrent writers on one document; the client should retry."""
