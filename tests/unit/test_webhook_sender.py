"""One delivery against a real HTTP server on 127.0.0.1: what is sent, what is
refused, and how slow, large or redirecting answers are handled."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import socket
import ssl
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from standardwebhooks.webhooks import Webhook

from generations_live.adapters.webhook_sender import DeliveryResult, deliver
from generations_live.domain.destinations import Destination, check_endpoint_url
from generations_live.domain.webhook_signatures import delivery_headers, new_secret

BODY = b'{"type":"generation.completed","data":{"id":"g1"}}'
HUGE_BYTES = 10 * 1024 * 1024
# A bound well above what a prompt answer takes and well below the waits the
# receiver would impose on a sender that read it all or waited for it.
PROMPT_S = 2.0


@dataclass
class Received:
    path: str
    # Names in lower case: HTTP header names are case-insensitive.
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """What the test server saw; ``release`` ends its deliberately slow answers."""

    port: int = 0
    requests: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hits(self, path: str | None = None) -> int:
        with self.lock:
            return sum(1 for request in self.requests if path in (None, request.path))


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # Teardown must not wait for a handler the test has already given up on.
    block_on_close = False

    def __init__(self, receiver: Receiver) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.receiver = receiver

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The sender hangs up on long and slow answers on purpose.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        receiver = cast(Server, self.server).receiver
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with receiver.lock:
            headers = {name.lower(): value for name, value in self.headers.items()}
            receiver.requests.append(Received(self.path, headers, body))
        if self.path == "/ok":
            self.answer(200, b"received")
        elif self.path == "/fail":
            self.answer(500, b"broken")
        elif self.path == "/redirect":
            self.answer(302, b"", location="/target")
        elif self.path == "/target":
            self.answer(200, b"redirected")
        elif self.path == "/slow":
            receiver.release.wait(timeout=10)
            self.answer(200, b"late")
        elif self.path == "/huge":
            self.send_response(200)
            self.send_header("Content-Length", str(HUGE_BYTES))
            self.end_headers()
            chunk = b"x" * 65536
            for _ in range(HUGE_BYTES // len(chunk)):
                self.wfile.write(chunk)
        elif self.path == "/drip":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            for _ in range(100):
                self.wfile.write(b"d")
                if receiver.release.wait(timeout=0.2):
                    break
        else:
            self.answer(404, b"no such route")

    def answer(self, status: int, body: bytes, *, location: str | None = None) -> None:
        self.send_response(status)
        if location is not None:
            self.send_header("Location", location)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextlib.contextmanager
def serving(tls: ssl.SSLContext | None = None) -> Iterator[Receiver]:
    seen = Receiver()
    server = Server(seen)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    seen.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield seen
    finally:
        seen.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serving() as seen:
        yield seen


def local(receiver: Receiver, path: str) -> Destination:
    return check_endpoint_url(f"http://127.0.0.1:{receiver.port}{path}", allow_loopback_http=True)


def named(port: int, path: str, *, scheme: str = "http") -> Destination:
    # Built directly: the URL guard would (rightly) refuse http to a public name.
    return Destination(
        scheme=scheme,
        host="receiver.test",
        port=port,
        target=path,
        url=f"{scheme}://receiver.test:{port}{path}",
    )


def signed(secret: str) -> dict[str, str]:
    return delivery_headers([secret], "evt_1", int(time.time()), BODY)


def send(destination: Destination, **options: Any) -> DeliveryResult:
    options.setdefault("allow_loopback", True)
    return deliver(destination, BODY, signed(new_secret()), **options)


def test_a_2xx_is_recorded_and_arrives_as_sent(receiver: Receiver) -> None:
    secret = new_secret()
    headers = signed(secret)
    result = deliver(local(receiver, "/ok"), BODY, headers, allow_loopback=True)

    assert (result.status_code, result.error, result.excerpt) == (200, None, "received")
    assert result.delivered
    assert result.address == "127.0.0.1"
    assert 0 < result.latency_ms < PROMPT_S * 1000
    [request] = receiver.requests
    assert request.body == BODY
    for name, value in headers.items():
        assert request.headers[name] == value
    assert request.headers["host"] == f"127.0.0.1:{receiver.port}"
    assert Webhook(secret).verify(request.body, request.headers) == {
        "type": "generation.completed",
        "data": {"id": "g1"},
    }


def test_a_5xx_is_a_status_not_an_error(receiver: Receiver) -> None:
    result = send(local(receiver, "/fail"))
    assert (result.status_code, result.error, result.excerpt) == (500, None, "broken")
    assert not result.delivered


def test_a_redirect_is_not_followed(receiver: Receiver) -> None:
    result = send(local(receiver, "/redirect"))
    assert (result.status_code, result.error) == (302, None)
    assert not result.delivered
    assert receiver.hits("/redirect") == 1
    assert receiver.hits("/target") == 0


def test_a_slow_answer_is_a_read_timeout(receiver: Receiver) -> None:
    started = time.monotonic()
    result = send(local(receiver, "/slow"), read_timeout=0.5)
    assert time.monotonic() - started < PROMPT_S
    assert result.status_code is None
    assert result.error is not None
    assert result.error.startswith("read timeout")
    assert result.address == "127.0.0.1"


def test_only_the_first_kibibyte_of_a_huge_answer_is_read(receiver: Receiver) -> None:
    started = time.monotonic()
    result = send(local(receiver, "/huge"))
    assert time.monotonic() - started < PROMPT_S
    assert (result.status_code, result.error) == (200, None)
    assert result.excerpt == "x" * 1024


def test_an_answer_that_drips_is_cut_at_the_read_timeout(receiver: Receiver) -> None:
    started = time.monotonic()
    result = send(local(receiver, "/drip"), read_timeout=0.5)
    assert time.monotonic() - started < PROMPT_S
    assert (result.status_code, result.error) == (200, None)
    assert 0 < len(result.excerpt) < 100


def test_a_refused_connection_is_an_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = send(named(port, "/ok"), resolve=lambda host, port: ["127.0.0.1"])
    assert result.status_code is None
    assert result.error is not None
    assert result.error.startswith("connection failed")


@pytest.mark.parametrize(
    "answer",
    [
        ["10.0.0.1"],
        ["93.184.216.34", "10.0.0.1"],
        ["10.0.0.1", "93.184.216.34"],
        ["127.0.0.1", "169.254.169.254"],
        ["::ffff:127.0.0.1"],
        ["not-an-address"],
        [],
    ],
)
def test_an_inside_address_in_the_dns_answer_refuses_without_connecting(
    receiver: Receiver, answer: list[str]
) -> None:
    asked: list[tuple[str, int]] = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return answer

    result = send(named(receiver.port, "/ok"), resolve=resolve)
    assert asked == [("receiver.test", receiver.port)]
    assert result.status_code is None
    assert result.error is not None
    assert receiver.hits() == 0


def test_a_failed_lookup_is_an_error() -> None:
    def resolve(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    result = send(named(443, "/ok", scheme="https"), resolve=resolve)
    assert result.error is not None
    assert result.error.startswith("could not resolve receiver.test")
    assert result.address is None


def test_loopback_is_refused_unless_allowed(receiver: Receiver) -> None:
    result = send(local(receiver, "/ok"), allow_loopback=False)
    assert result.error is not None
    assert "loopback" in result.error
    assert result.address == "127.0.0.1"
    assert receiver.hits() == 0


def test_the_connection_goes_to_the_vetted_address_with_the_name_as_host(
    receiver: Receiver,
) -> None:
    lookups: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        # A second lookup would be the rebinding window: there must be none.
        lookups.append(host)
        return ["127.0.0.1"]

    result = send(named(receiver.port, "/ok"), resolve=resolve)
    assert (result.status_code, result.error, result.address) == (200, None, "127.0.0.1")
    assert lookups == ["receiver.test"]
    [request] = receiver.requests
    assert request.headers["host"] == f"receiver.test:{receiver.port}"


@pytest.mark.parametrize(
    ("certified", "trusted", "status", "problem"),
    [
        ("receiver.test", True, 200, None),
        ("receiver.test", False, None, "certificate verify failed"),
        # Issued for another name: the name is checked, not the address dialled.
        ("other.test", True, None, "receiver.test"),
        ("127.0.0.1", True, None, "receiver.test"),
    ],
)
def test_tls_sends_the_name_and_checks_the_certificate_against_it(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    certified: str,
    trusted: bool,
    status: int | None,
    problem: str | None,
) -> None:
    certificate, key = self_signed(tmp_path, certified)
    if trusted:
        # OpenSSL's default trust store (which urllib3 loads) honours SSL_CERT_FILE.
        monkeypatch.setenv("SSL_CERT_FILE", str(certificate))
    names: list[str | None] = []
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(certificate, key)

    def record_name(connection: Any, name: str | None, context: ssl.SSLContext) -> None:
        names.append(name)

    tls.sni_callback = record_name
    with serving(tls) as seen:
        result = send(
            named(seen.port, "/ok", scheme="https"), resolve=lambda host, port: ["127.0.0.1"]
        )
    assert names == ["receiver.test"]
    assert result.status_code == status
    if problem is None:
        assert result.error is None
        [request] = seen.requests
        assert request.headers["host"] == f"receiver.test:{seen.port}"
        assert request.body == BODY
    else:
        assert result.error is not None
        assert result.error.startswith("TLS error")
        assert problem in result.error
        assert seen.hits() == 0


def self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    try:
        alternative: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        alternative = x509.DNSName(name)
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([alternative]), critical=False)
        .sign(key, hashes.SHA256())
    )
    certificate_file = directory / "certificate.pem"
    key_file = directory / "key.pem"
    certificate_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certificate_file, key_file
