"""Sends one signed webhook delivery over HTTP(S) to a checked destination.

The endpoint's host is resolved here, every address it resolves to is vetted
(``refusal_for_address``), and the connection goes to the first vetted address
itself, with the host name only in the ``Host`` header, the TLS SNI and the
certificate check. A name whose DNS answer changes between the check and the
connection (DNS rebinding) therefore cannot turn the request inside.

One attempt, no redirects, no retries: the delivery schedule decides when to
try again, and a receiver's 3xx is an answer like any other non-2xx. Network
failures never raise; they come back as ``DeliveryResult.error``.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ReadTimeoutError,
    SSLError,
)

from generations_live.domain.destinations import Destination, refusal_for_address

# The first part of a receiver's answer kept for its delivery log; the rest is
# never read, so a receiver cannot make a delivery slow or large by answering at length.
EXCERPT_BYTES: Final = 1024

Resolver = Callable[[str, int], list[str]]


@dataclass(frozen=True)
class DeliveryResult:
    """What one delivery attempt came to."""

    # The receiver's HTTP status, or None when no answer arrived.
    status_code: int | None
    # Wall time of the attempt, resolving included.
    latency_ms: float
    # The start of the answer, as UTF-8 with undecodable bytes replaced.
    excerpt: str
    # Why no answer arrived (or why nothing was sent), or None.
    error: str | None
    # The address connected to, or the one whose refusal stopped the attempt.
    address: str | None

    @property
    def delivered(self) -> bool:
        """The receiver acknowledged the delivery with a 2xx."""
        return self.error is None and self.status_code is not None and 200 <= self.status_code < 300


def resolve_addresses(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to for a TCP connection, in the resolver's order."""
    answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(answer[4][0]) for answer in answers))


def deliver(
    destination: Destination,
    body: bytes,
    headers: Mapping[str, str],
    *,
    connect_timeout: float = 3.0,
    read_timeout: float = 5.0,
    allow_loopback: bool = False,
    resolve: Resolver = resolve_addresses,
) -> DeliveryResult:
    """POST ``body`` with ``headers`` to ``destination`` once, and say what happened."""
    started = time.monotonic()

    def result(
        *,
        error: str | None,
        address: str | None,
        status_code: int | None = None,
        excerpt: bytes = b"",
    ) -> DeliveryResult:
        return DeliveryResult(
            status_code=status_code,
            latency_ms=(time.monotonic() - started) * 1000,
            excerpt=excerpt.decode("utf-8", errors="replace"),
            error=error,
            address=address,
        )

    try:
        addresses = resolve(destination.host, destination.port)
    except OSError as unresolved:
        return result(error=f"could not resolve {destination.host}: {unresolved}", address=None)
    if not addresses:
        return result(error=f"{destination.host} resolved to no address", address=None)
    # One inside address is enough to refuse: which answer a later lookup (or
    # a client trying each in turn) would use is not ours to predict.
    for address in addresses:
        refusal = refusal_for_address(address, allow_loopback=allow_loopback)
        if refusal is not None:
            return result(
                error=f"refused: {destination.host} resolves to {refusal}", address=address
            )
    address = addresses[0]

    pool = _pool(destination, address, urllib3.Timeout(connect=connect_timeout, read=read_timeout))
    try:
        sent = {name: value for name, value in headers.items() if name.lower() != "host"}
        # The request goes to the address; the Host header still names the endpoint.
        sent["Host"] = destination.authority
        try:
            response = pool.urlopen(
                "POST",
                destination.target,
                body=body,
                headers=sent,
                redirect=False,
                retries=False,
                preload_content=False,
                decode_content=False,
                assert_same_host=False,
            )
        except HTTPError as failure:
            return result(error=_describe(failure, connect_timeout, read_timeout), address=address)
        except OSError as failure:
            return result(error=f"connection failed: {failure}", address=address)
        try:
            excerpt = _read_excerpt(response, deadline=time.monotonic() + read_timeout)
        finally:
            # Closing (not releasing) drops the connection with whatever the
            # receiver still has to send: releasing would first drain it.
            response.close()
        return result(error=None, address=address, status_code=response.status, excerpt=excerpt)
    finally:
        pool.close()


def _pool(
    destination: Destination, address: str, timeout: urllib3.Timeout
) -> urllib3.HTTPConnectionPool:
    if destination.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            address,
            destination.port,
            timeout=timeout,
            retries=False,
            maxsize=1,
            # SNI and the certificate check use the name, not the address dialled.
            server_hostname=destination.host,
            assert_hostname=destination.host,
            cert_reqs="CERT_REQUIRED",
        )
    return urllib3.HTTPConnectionPool(
        address, destination.port, timeout=timeout, retries=False, maxsize=1
    )


def _read_excerpt(response: urllib3.BaseHTTPResponse, *, deadline: float) -> bytes:
    """At most ``EXCERPT_BYTES`` of the answer, within the read timeout overall.

    Each read waits at most the read timeout, and a receiver sending a byte at
    a time would otherwise hold the attempt for a timeout per byte. The status
    is the answer: a body that stops or breaks leaves the excerpt short.
    """
    excerpt = b""
    with contextlib.suppress(HTTPError, OSError):
        while len(excerpt) < EXCERPT_BYTES and time.monotonic() < deadline:
            chunk = response.read1(EXCERPT_BYTES - len(excerpt))
            if not chunk:
                break
            excerpt += chunk
    return excerpt


def _describe(failure: HTTPError, connect_timeout: float, read_timeout: float) -> str:
    # urllib3 derives NewConnectionError (refused, unreachable) from
    # ConnectTimeoutError, so it is told apart first.
    if isinstance(failure, NewConnectionError):
        return f"connection failed: {failure}"
    if isinstance(failure, ConnectTimeoutError):
        return f"connect timeout: no connection within {connect_timeout} s"
    if isinstance(failure, ReadTimeoutError):
        return f"read timeout: no answer within {read_timeout} s"
    if isinstance(failure, SSLError):
        return f"TLS error: {failure}"
    return f"{type(failure).__name__}: {failure}"
