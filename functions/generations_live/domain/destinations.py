"""Where an outbound webhook may be sent: the guard against server-side request
forgery. Pure rules: no I/O.

An endpoint is checked in two steps. ``check_endpoint_url`` refuses every URL
whose host is written as an address or a name that can only lead inside:
private, loopback, link-local, shared (CGNAT), multicast and reserved ranges,
in any of the numeric spellings resolvers accept, and names such as
``localhost`` or ``*.internal``. A public name can still resolve to an inside
address, so the sender also passes every address it resolved through
``refusal_for_address`` before connecting, and then connects to that vetted
address itself.

Loopback endpoints exist for the emulators only: ``allow_loopback_http`` (and
``allow_loopback`` at send time) lets them through, over http too.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from typing import Final, TypeAlias
from urllib.parse import quote, urlsplit

from generations_live.domain.errors import InvalidArgument

MAX_URL_LENGTH: Final = 2048
DEFAULT_PORTS: Final = {"https": 443, "http": 80}

# Names that resolve (or are meant to resolve) to the machine itself.
_LOOPBACK_NAMES: Final = frozenset({"localhost"})
_LOOPBACK_SUFFIXES: Final = (".localhost",)
# Names that only ever lead inside a network: mDNS (RFC 6762), the private-use
# top-level domain (which holds metadata.google.internal), home networks
# (RFC 8375) and the usual /etc/hosts alias.
_INSIDE_NAMES: Final = frozenset({"local", "internal", "home.arpa", "localdomain"})
_INSIDE_SUFFIXES: Final = tuple(f".{name}" for name in sorted(_INSIDE_NAMES))
# Letters, digits and hyphens: the only labels a public certificate can name.
_LABEL: Final = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
# WHATWG and most resolvers read a host whose last label is a number (decimal,
# octal or 0x hex) as an IPv4 address, however short or odd its spelling.
_NUMERIC_LABEL: Final = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)")
MAX_HOST_LENGTH: Final = 253

# IPv6 ranges judged here rather than by ipaddress: some it counts as global
# (or not) differently between Python releases, some carry an IPv4 address.
_IPV6_COMPATIBLE: Final = ipaddress.IPv6Network("::/96")  # deprecated ::a.b.c.d
_NAT64_WELL_KNOWN: Final = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL: Final = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215, site-local
_SHARED_IPV4: Final = ipaddress.IPv4Network("100.64.0.0/10")  # CGNAT, RFC 6598

_Address: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Destination:
    """A checked endpoint: what to connect to and what to ask for."""

    scheme: str
    # Lower-case, IDNA-encoded; an IPv4 address in dotted quads, an IPv6 one
    # compressed and without brackets.
    host: str
    port: int
    # Path and query, as sent in the request line.
    target: str
    # The URL rebuilt from the fields above: what is contacted.
    url: str

    @property
    def authority(self) -> str:
        """The ``Host`` header: the host, bracketed if IPv6, and a port that is not the default."""
        return _authority(self.scheme, self.host, self.port)


def check_endpoint_url(url: str, *, allow_loopback_http: bool) -> Destination:
    """The destination ``url`` names, or ``invalid-argument`` saying why it may not be used."""
    if len(url) > MAX_URL_LENGTH:
        raise _refusal(f"must be at most {MAX_URL_LENGTH} characters")
    if any(character.isspace() or _is_control(character) for character in url):
        raise _refusal("must not contain spaces or control characters")
    # Parsers disagree on "\": WHATWG reads it as "/", urllib as part of the host.
    if "\\" in url:
        raise _refusal("must not contain backslashes")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as malformed:
        raise _refusal("must be a well-formed URL with a port from 1 to 65535") from malformed
    if parts.scheme not in DEFAULT_PORTS:
        raise _refusal(_scheme_problem(allow_loopback_http))
    if "@" in parts.netloc:
        raise _refusal("must not carry credentials")
    if "#" in url:
        raise _refusal("must not have a fragment")
    if port == 0:
        raise _refusal("must have a port from 1 to 65535")
    host, address = _host(parts.hostname or "", bracketed="[" in parts.netloc)
    loopback = _is_loopback_host(host, address)
    if parts.scheme == "http" and not (allow_loopback_http and loopback):
        raise _refusal(_scheme_problem(allow_loopback_http))
    if not (allow_loopback_http and loopback):
        _check_outside(host, address, loopback=loopback)
    scheme = parts.scheme
    port = DEFAULT_PORTS[scheme] if port is None else port
    # http.client sends the request line as ASCII: anything else is percent-encoded.
    target = "".join(
        character if character.isascii() else quote(character, safe="")
        for character in (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    )
    return Destination(
        scheme=scheme,
        host=host,
        port=port,
        target=target,
        url=f"{scheme}://{_authority(scheme, host, port)}{target}",
    )


def refusal_for_address(address: str, *, allow_loopback: bool) -> str | None:
    """Why a resolved address (IPv4 or IPv6 text, perhaps with a ``%scope``) must
    not be contacted, or ``None`` when it may be."""
    try:
        parsed = ipaddress.ip_address(address.partition("%")[0])
    except ValueError:
        return f"{address!r}, which is not an IP address"
    return _address_refusal(parsed, allow_loopback=allow_loopback)


def _host(hostname: str, *, bracketed: bool) -> tuple[str, _Address | None]:
    """The host as contacted, and its address when it is written as one."""
    if bracketed:
        # A zone ("%25eth0") names a local interface: never a public destination.
        if "%" in hostname:
            raise _refusal("must not name an IPv6 zone")
        try:
            address = ipaddress.IPv6Address(hostname)
        except ValueError as malformed:
            raise _refusal("must have a valid IPv6 address in brackets") from malformed
        return str(address), address
    if not hostname:
        raise _refusal("must name a host")
    try:
        # Python's codec applies nameprep, so full-width and other look-alike
        # spellings of "localhost" are checked as the name they become.
        host = hostname.encode("idna").decode("ascii").lower()
    except UnicodeError as malformed:
        raise _refusal("must have a valid host name") from malformed
    # "localhost." and "localhost" are the same name to a resolver.
    host = host.removesuffix(".")
    labels = host.split(".")
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        try:
            packed = socket.inet_aton(host)
        except OSError as malformed:
            raise _refusal("must have a valid IPv4 address") from malformed
        ipv4 = ipaddress.IPv4Address(packed)
        return str(ipv4), ipv4
    if len(host) > MAX_HOST_LENGTH or not all(_LABEL.fullmatch(label) for label in labels):
        raise _refusal("must have a valid host name")
    if len(labels) == 1 and host not in _LOOPBACK_NAMES:
        # A single label is completed from the resolver's search list: on Google
        # Cloud "metadata" becomes metadata.google.internal.
        raise _refusal(f"must have a fully qualified host name, not {host!r}")
    return host, None


def _check_outside(host: str, address: _Address | None, *, loopback: bool) -> None:
    if address is not None:
        reason = _address_refusal(address, allow_loopback=False)
        if reason is not None:
            raise _refusal(f"must not point at {reason}")
    elif loopback or host in _INSIDE_NAMES or host.endswith(_INSIDE_SUFFIXES):
        raise _refusal(f"must not name a local or internal host ({host})")


def _is_loopback_host(host: str, address: _Address | None) -> bool:
    if address is not None:
        return address.is_loopback
    return host in _LOOPBACK_NAMES or host.endswith(_LOOPBACK_SUFFIXES)


def _address_refusal(address: _Address, *, allow_loopback: bool) -> str | None:
    if allow_loopback and address.is_loopback:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        # These reach the IPv4 address they carry, so that address decides.
        # Only the plain loopback spellings pass under allow_loopback.
        carried = address.ipv4_mapped
        if carried is None and address in _NAT64_WELL_KNOWN:
            # DNS64 networks hand out these for public IPv4-only hosts.
            carried = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if carried is not None:
            reason = _address_refusal(carried, allow_loopback=False)
            return None if reason is None else f"{address}, which carries {reason}"
        # A 6to4 address reaches its IPv4 address through a relay.
        if address.sixtofour is not None:
            reason = _address_refusal(address.sixtofour, allow_loopback=False)
            if reason is not None:
                return f"{address}, which carries {reason}"
        if address in _IPV6_COMPATIBLE and int(address) > 1:
            return f"{address}, a deprecated IPv4-compatible address"
        if address in _NAT64_LOCAL or address.is_site_local:
            return f"{address}, a site-local address"
    kind = _kind(address)
    return None if kind is None else f"{address}, {kind}"


def _kind(address: _Address) -> str | None:
    # Checked one by one, not through is_global alone: ipaddress counts
    # multicast (and, depending on the Python release, other ranges) as global.
    checks = (
        (address.is_unspecified, "an unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (
            isinstance(address, ipaddress.IPv4Address) and address in _SHARED_IPV4,
            "a shared (CGNAT) address",
        ),
        (address.is_reserved, "a reserved address"),
        (address.is_private, "a private address"),
        (not address.is_global, "an address that is not globally routable"),
    )
    return next((kind for refused, kind in checks if refused), None)


def _authority(scheme: str, host: str, port: int) -> str:
    bracketed = f"[{host}]" if ":" in host else host
    return bracketed if port == DEFAULT_PORTS.get(scheme) else f"{bracketed}:{port}"


def _scheme_problem(allow_loopback_http: bool) -> str:
    if allow_loopback_http:
        return "must be an https URL (or http to a loopback host)"
    return "must be an https URL"


def _is_control(character: str) -> bool:
    return ord(character) < 0x20 or 0x7F <= ord(character) <= 0x9F


def _refusal(problem: str) -> InvalidArgument:
    message = f"url {problem}"
    return InvalidArgument(message, details={"errors": [{"field": "url", "message": message}]})
