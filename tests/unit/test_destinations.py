"""The guard on webhook endpoints: which URLs may be registered and which
resolved addresses may be contacted."""

from __future__ import annotations

import pytest

from generations_live.domain.destinations import (
    Destination,
    check_endpoint_url,
    refusal_for_address,
)
from generations_live.domain.errors import InvalidArgument

# Every address the guard must keep away from, with the range it stands for.
INSIDE_IPV4 = [
    ("10.0.0.1", "private"),
    ("10.255.255.254", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.254", "private"),
    ("192.168.1.1", "private"),
    ("127.0.0.1", "loopback"),
    ("127.255.0.9", "loopback"),
    ("169.254.169.254", "link-local"),
    ("100.64.0.1", "shared"),
    ("100.127.255.254", "shared"),
    ("0.0.0.0", "unspecified"),  # noqa: S104 - an address under test, not a bind
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("192.0.2.1", "private"),  # documentation
    ("198.18.0.1", "private"),  # benchmarking
]
INSIDE_IPV6 = [
    ("::1", "loopback"),
    ("fe80::1", "link-local"),
    ("fc00::1", "private"),
    ("fd12:3456:789a::1", "private"),
    ("::", "unspecified"),
    ("ff02::1", "multicast"),
    ("fec0::1", "site-local"),
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:10.0.0.1", "private"),
    ("::ffff:169.254.169.254", "link-local"),
    ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
    ("2002:a9fe:a9fe::1", "link-local"),  # 6to4 of 169.254.169.254
    ("64:ff9b::7f00:1", "loopback"),  # NAT64 of 127.0.0.1
    ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
    ("64:ff9b:1::1", "site-local"),  # local-use NAT64
    ("::7f00:1", "IPv4-compatible"),
    ("2001:db8::1", "private"),  # documentation
]
# Spellings of 127.0.0.1 (and 10.0.0.1, 169.254.169.254) that resolvers accept.
LEGACY_IPV4 = [
    ("2130706433", "127.0.0.1"),
    ("0177.0.0.1", "127.0.0.1"),
    ("0x7f.0.0.1", "127.0.0.1"),
    ("0x7f000001", "127.0.0.1"),
    ("0X7F000001", "127.0.0.1"),
    ("127.1", "127.0.0.1"),
    ("127.0.1", "127.0.0.1"),
    ("0x7f.1", "127.0.0.1"),
    ("017700000001", "127.0.0.1"),
    ("127.0.0.1.", "127.0.0.1"),
    ("10.1", "10.0.0.1"),
    ("167772161", "10.0.0.1"),
    ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"),
    ("2852039166", "169.254.169.254"),
]
PUBLIC = ["93.184.216.34", "2606:2800:220:1::", "8.8.8.8", "2001:4860:4860::8888"]


def refusal(url: str, *, allow_loopback_http: bool = False) -> str:
    with pytest.raises(InvalidArgument) as refused:
        check_endpoint_url(url, allow_loopback_http=allow_loopback_http)
    details = refused.value.details
    assert details is not None
    assert details["errors"][0]["field"] == "url"
    message: str = details["errors"][0]["message"]
    assert message == refused.value.message
    return message


def bracketed(address: str) -> str:
    return f"[{address}]" if ":" in address else address


@pytest.mark.parametrize(("address", "kind"), INSIDE_IPV4 + INSIDE_IPV6)
def test_an_inside_address_is_refused_as_a_host_and_when_resolved(address: str, kind: str) -> None:
    assert kind in refusal(f"https://{bracketed(address)}/hook")
    reason = refusal_for_address(address, allow_loopback=False)
    assert reason is not None
    assert kind in reason


@pytest.mark.parametrize(("host", "address"), LEGACY_IPV4)
def test_legacy_ipv4_spellings_are_read_as_the_address_they_spell(host: str, address: str) -> None:
    assert address in refusal(f"https://{host}/hook")


def test_a_legacy_spelling_of_a_public_address_is_contacted_as_dotted_quads() -> None:
    destination = check_endpoint_url("https://1572395042/hook", allow_loopback_http=False)
    assert destination.host == "93.184.216.34"
    assert destination.url == "https://93.184.216.34/hook"


@pytest.mark.parametrize("host", ["1.2.3.4.5", "256.0.0.1", "0x100000000", "example.123", "09.1"])
def test_a_host_ending_in_a_number_must_be_a_valid_ipv4_address(host: str) -> None:
    assert "valid IPv4" in refusal(f"https://{host}/")


@pytest.mark.parametrize(
    "host", ["1e100.net", "0x7f.example.com", "127.0.0.1.example.com", "xn--bcher-kva.de"]
)
def test_names_that_look_numeric_are_names(host: str) -> None:
    destination = check_endpoint_url(f"https://{host}/", allow_loopback_http=False)
    assert destination.host == host


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str) -> None:
    assert refusal_for_address(address, allow_loopback=False) is None
    assert refusal_for_address(address, allow_loopback=True) is None
    destination = check_endpoint_url(
        f"https://{bracketed(address)}:8443/hook", allow_loopback_http=False
    )
    assert destination.host == address
    assert destination.port == 8443


@pytest.mark.parametrize(
    "address", ["::ffff:93.184.216.34", "64:ff9b::5db8:d822", "2002:5db8:d822::1"]
)
def test_ipv6_forms_carrying_a_public_ipv4_address_pass(address: str) -> None:
    assert refusal_for_address(address, allow_loopback=False) is None


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "LOCALHOST",
        "localhost.",
        "api.localhost",
        "metadata.google.internal",
        "metadata.google.internal.",
        "service.internal",
        "printer.local",
        "router.home.arpa",
        "box.localdomain",
        # Full-width letters: nameprep makes them "localhost".
        "\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54",
    ],
)
def test_local_and_internal_names_are_refused(host: str) -> None:
    assert "local or internal" in refusal(f"https://{host}/hook")


@pytest.mark.parametrize("host", ["metadata", "intranet", "kubernetes"])
def test_single_label_names_are_refused(host: str) -> None:
    # The resolver would complete them from its search list.
    assert "fully qualified" in refusal(f"https://{host}/hook")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://example.com/hook", "https"),
        ("ftp://example.com/hook", "https"),
        ("javascript:alert(1)", "https"),
        ("example.com/hook", "https"),
        ("https://user:pass@example.com/hook", "credentials"),
        ("https://user@example.com/hook", "credentials"),
        ("https://@example.com/hook", "credentials"),
        ("https://example.com/hook#part", "fragment"),
        ("https://example.com/hook#", "fragment"),
        ("https://example.com/" + "a" * 2030, "2048"),
        ("https://example.com/a b", "spaces or control"),
        (" https://example.com/", "spaces or control"),
        ("https://example.com/\t", "spaces or control"),
        ("https://example.com/\x00", "spaces or control"),
        ("https://example.com/\x7f", "spaces or control"),
        ("https://example.com/\u2028", "spaces or control"),
        ("https://example.com\\@evil.test/", "backslash"),
        ("https://example.com:0/", "port from 1 to 65535"),
        ("https://example.com:65536/", "port from 1 to 65535"),
        ("https://example.com:http/", "port from 1 to 65535"),
        ("https:///hook", "must name a host"),
        ("https://exa_mple.com/", "valid host name"),
        ("https://a..example.com/", "valid host name"),
        ("https://-example.com/", "valid host name"),
        ("https://" + "a" * 64 + ".com/", "valid host name"),
        ("https://[fe80::1%25eth0]/", "zone"),
        ("https://[::1%25lo]/", "zone"),
        ("https://[not-an-address]/", "well-formed"),
    ],
)
def test_malformed_or_unsafe_urls_are_refused(url: str, problem: str) -> None:
    assert problem in refusal(url)


def test_a_good_url_is_normalised() -> None:
    destination = check_endpoint_url(
        "HTTPS://Hooks.Example.COM:443/in/bücher?x=1&y=2", allow_loopback_http=False
    )
    assert destination == Destination(
        scheme="https",
        host="hooks.example.com",
        port=443,
        target="/in/b%C3%BCcher?x=1&y=2",
        url="https://hooks.example.com/in/b%C3%BCcher?x=1&y=2",
    )
    assert destination.authority == "hooks.example.com"


def test_an_international_name_is_idna_encoded() -> None:
    destination = check_endpoint_url("https://Bücher.example/", allow_loopback_http=False)
    assert destination.host == "xn--bcher-kva.example"
    assert destination.target == "/"


def test_a_port_other_than_the_default_is_kept() -> None:
    destination = check_endpoint_url("https://example.com:8443", allow_loopback_http=False)
    assert (destination.port, destination.target) == (8443, "/")
    assert destination.authority == "example.com:8443"
    assert destination.url == "https://example.com:8443/"
    assert check_endpoint_url("https://example.com:1/", allow_loopback_http=False).port == 1
    assert check_endpoint_url("https://example.com:65535/", allow_loopback_http=False).port == 65535


@pytest.mark.parametrize(
    ("url", "host", "authority"),
    [
        ("http://localhost:5001/hook", "localhost", "localhost:5001"),
        ("http://127.0.0.1:8080/hook", "127.0.0.1", "127.0.0.1:8080"),
        ("http://127.1:8080/hook", "127.0.0.1", "127.0.0.1:8080"),
        ("http://[::1]:8080/hook", "::1", "[::1]:8080"),
        ("http://receiver.localhost/hook", "receiver.localhost", "receiver.localhost"),
        ("https://localhost:8443/hook", "localhost", "localhost:8443"),
    ],
)
def test_loopback_passes_over_http_only_when_allowed(url: str, host: str, authority: str) -> None:
    destination = check_endpoint_url(url, allow_loopback_http=True)
    assert (destination.host, destination.authority) == (host, authority)
    refusal(url, allow_loopback_http=False)


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hook",
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://metadata.google.internal/computeMetadata/v1/",
        "https://10.0.0.1/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0:8080/hook",
    ],
)
def test_allowing_loopback_allows_nothing_else(url: str) -> None:
    refusal(url, allow_loopback_http=True)


def test_resolved_loopback_addresses_pass_only_when_allowed() -> None:
    for address in ("127.0.0.1", "127.0.0.53", "::1"):
        assert refusal_for_address(address, allow_loopback=True) is None
        assert refusal_for_address(address, allow_loopback=False) is not None
    # Only plain loopback: other spellings stay refused.
    for address in ("::ffff:127.0.0.1", "64:ff9b::7f00:1", "10.0.0.1", "0.0.0.0", "::"):  # noqa: S104
        assert refusal_for_address(address, allow_loopback=True) is not None


def test_a_scoped_resolved_address_is_judged_without_its_scope() -> None:
    reason = refusal_for_address("fe80::1%eth0", allow_loopback=True)
    assert reason is not None
    assert "link-local" in reason
    assert refusal_for_address("2606:2800:220:1::%3", allow_loopback=False) is None


@pytest.mark.parametrize("answer", ["", "example.com", "127.1", "1.2.3.4 ", "::1::2"])
def test_a_resolved_answer_that_is_not_an_address_is_refused(answer: str) -> None:
    reason = refusal_for_address(answer, allow_loopback=True)
    assert reason is not None
    assert "not an IP address" in reason
