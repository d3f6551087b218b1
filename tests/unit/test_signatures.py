from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from generations_live.domain.signatures import InvalidSignature, sign, verify

SECRET = "whsec-test"
NOW = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
BODY = b'{"id": "evt_00000001", "type": "credits.purchased"}'
TOLERANCE = timedelta(minutes=5)


def stamp(offset_s: int = 0) -> int:
    return int(NOW.timestamp()) + offset_s


def test_a_fresh_signature_verifies() -> None:
    verify(SECRET, sign(SECRET, stamp(), BODY), BODY, NOW, TOLERANCE)
    verify(SECRET, sign(SECRET, stamp(-299), BODY), BODY, NOW, TOLERANCE)


def test_rotation_accepts_any_listed_signature() -> None:
    old = sign("old-secret", stamp(), BODY).split(",")[1]
    verify(SECRET, f"{sign(SECRET, stamp(), BODY)},{old}", BODY, NOW, TOLERANCE)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "v1=abc",
        "t=notanumber,v1=abc",
        f"t={stamp()}",
        sign(SECRET, stamp(), BODY + b" "),
        sign("another-secret", stamp(), BODY),
        sign(SECRET, stamp(-301), BODY),
        sign(SECRET, stamp(+301), BODY),
        f"t={stamp()},t={stamp()},v1=abc",
    ],
)
def test_anything_else_is_refused(header: str | None) -> None:
    with pytest.raises(InvalidSignature):
        verify(SECRET, header, BODY, NOW, TOLERANCE)


def test_no_secret_configured_refuses_everything() -> None:
    with pytest.raises(InvalidSignature):
        verify("", sign("", stamp(), BODY), BODY, NOW, TOLERANCE)
