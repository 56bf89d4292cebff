"""Typed errors of the store clients.

None of these is a user error (they are not ``ReviewmineError``): a failed app/store is
reported in the run summary and the run goes on with the others. ``retryable`` says whether
the HTTP client may try the same request again; an error is never taken for "no more reviews".
"""

from __future__ import annotations


class StoreError(Exception):
    """Something went wrong talking to a store."""

    retryable = False

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StoreTransportError(StoreError):
    """Connection refused/reset, timeout, or a body cut off in transit."""

    retryable = True


class ThrottledError(StoreError):
    """The store asks us to slow down (HTTP 429, Apple's 403)."""

    retryable = True


class ServerError(StoreError):
    """HTTP 5xx."""

    retryable = True


class MalformedResponseError(StoreError):
    """A 200 whose body is not in the expected format (truncated, garbage, missing prefix)."""

    retryable = True


class PlayGatewayError(StoreError):
    """Google Play's throttling sentinel ``PlayGatewayError`` inside an HTTP 200."""

    retryable = True


class PlayDataError(StoreError):
    """Google Play's ``PlayDataError`` (or another RPC error) inside an HTTP 200."""

    retryable = True


class NotFoundError(StoreError):
    """HTTP 404 (or another non-retryable 4xx): the app id is unknown to the store."""


class AppNotInStorefrontError(StoreError):
    """The App Store feed has no ``self`` link: no such app in this storefront."""


class TokenCycleError(StoreError):
    """Google Play served a continuation token already used in this walk."""
