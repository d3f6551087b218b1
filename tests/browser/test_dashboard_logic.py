"""The dashboard's pure modules (web/dashboard/messages.js, credits.js and the
helpers of format.js), run by Node as the browser runs them: what the page
says for each refusal, the credits it shows, the cards' shares and which feed
rows it highlights. No emulator: each case is a plain value in, a value out.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import Any

import pytest

from harness.emulators import ROOT

DASHBOARD = ROOT / "web" / "dashboard"
CALLABLE_CODES = (
    "invalid-argument",
    "unauthenticated",
    "permission-denied",
    "failed-precondition",
    "resource-exhausted",
    "not-found",
    "aborted",
    "internal",
    "unavailable",
    "deadline-exceeded",
)
REQUEST_FIELDS = ("type", "engine", "prompt", "mode", "batchSize", "visibility", "requestId")
WRONG_CREDENTIALS = "That email and password do not match an account."
# What no sentence for people may carry: codes, HTTP statuses, validator wording.
TECHNICAL = re.compile(
    r"functions/|auth/|firebase|\[\d{3}\]|should match|pattern|invalid-argument|"
    r"resource-exhausted|user-not-found|wrong-password|undefined|null|NaN",
    re.I,
)


def run_js(body: str) -> Any:
    """Run ``body`` (an async module body that returns a JSON-able value) in Node."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH: the dashboard's modules run in Node 20+")
    imports = "\n".join(
        f'import * as {name} from "{(DASHBOARD / f"{name}.js").as_uri()}";'
        for name in ("messages", "credits", "format")
    )
    script = f"{imports}\nconst result = await (async () => {{ {body} }})();\n"
    script += "process.stdout.write(JSON.stringify(result));\n"
    done = subprocess.run(  # noqa: S603 - Node running the project's own modules
        [node, "--input-type=module", "-e", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def error_messages(errors: list[dict[str, Any]]) -> list[str]:
    said: list[str] = run_js(
        f"return {json.dumps(errors)}.map((error) => messages.errorMessage(error));"
    )
    return said


def test_every_callable_code_reads_as_its_own_sentence() -> None:
    said = error_messages([{"code": f"functions/{code}"} for code in CALLABLE_CODES])
    assert len(set(said)) == len(CALLABLE_CODES), said
    fallback = error_messages([{"code": "functions/no-such-code"}])[0]
    for code, sentence in zip(CALLABLE_CODES, said, strict=True):
        assert sentence != fallback, code
        assert not TECHNICAL.search(sentence), (code, sentence)
        assert sentence.endswith("."), (code, sentence)


def test_every_field_of_a_start_reads_as_its_own_sentence() -> None:
    refusals = [
        {
            "code": "functions/invalid-argument",
            "message": f"{field}: String should match pattern '^[a-z0-9]' [400]",
            "details": {"errors": [{"field": field, "message": "String should match pattern"}]},
        }
        for field in REQUEST_FIELDS
    ]
    said = error_messages(refusals)
    generic = error_messages([{"code": "functions/invalid-argument"}])[0]
    assert len(set(said)) == len(REQUEST_FIELDS), said
    for field, sentence in zip(REQUEST_FIELDS, said, strict=True):
        assert sentence != generic, field
        assert not TECHNICAL.search(sentence), (field, sentence)
    # Two problems, two sentences; an unknown engine is not a malformed one.
    both, unknown = error_messages(
        [
            {
                "code": "functions/invalid-argument",
                "details": {"errors": [{"field": "prompt"}, {"field": "batchSize"}]},
            },
            {
                "code": "functions/invalid-argument",
                "details": {"errors": [{"field": "engine", "message": "unknown engine 'x'"}]},
            },
        ]
    )
    assert (
        both == f"{said[REQUEST_FIELDS.index('prompt')]} {said[REQUEST_FIELDS.index('batchSize')]}"
    )
    assert unknown != said[REQUEST_FIELDS.index("engine")]
    assert "not available" in unknown


def test_limits_and_missing_credits_say_what_to_do() -> None:
    rate, concurrency, credits, bare = error_messages(
        [
            {
                "code": "functions/resource-exhausted",
                "details": {"reason": "rate", "retryAfterSeconds": 7},
            },
            {
                "code": "functions/resource-exhausted",
                "details": {"reason": "concurrency", "retryAfterSeconds": 5, "limit": 5},
            },
            {
                "code": "functions/resource-exhausted",
                "details": {"cost": 10, "available": 3, "shortfall": 7},
            },
            {"code": "functions/resource-exhausted"},
        ]
    )
    assert rate == "You are starting generations too quickly. Please try again in 7 seconds."
    assert "at most 5 at once" in concurrency
    assert "5 seconds" in concurrency
    assert (
        credits == "Not enough credits: this generation costs 10 credits and you have 3 available."
    )
    assert len({rate, concurrency, credits, bare}) == 4
    for sentence in (rate, concurrency, credits, bare):
        assert not TECHNICAL.search(sentence), sentence


def test_a_failed_sign_in_never_tells_whether_the_account_exists() -> None:
    codes = [
        "auth/user-not-found",
        "auth/wrong-password",
        "auth/invalid-credential",
        "auth/invalid-login-credentials",
        "auth/invalid-email",
    ]
    said = run_js(
        f"return {json.dumps(codes)}.map((code) => messages.signInMessage({{ code, "
        f"message: `Firebase: Error (${{code}}).` }}));"
    )
    assert said == [WRONG_CREDENTIALS] * len(codes)
    others = run_js(
        'return ["auth/too-many-requests", "auth/network-request-failed", "auth/weak-password",'
        ' "auth/email-already-in-use"].map((code) => messages.signInMessage({ code }));'
    )
    for sentence in others:
        assert not TECHNICAL.search(sentence), sentence


def test_the_credits_shown_are_those_the_quote_uses() -> None:
    views = run_js(
        """
        const guest = { cost: 1, balance: 0, held: 0, available: 0, canAfford: false,
          freeCredits: { qualifies: false, dailyFloor: 10, overdraftAllowance: 10,
            reason: "Guest accounts get no free credits." } };
        const firstToday = { cost: 1, balance: 10, held: 0, available: 10, canAfford: true,
          freeCredits: { qualifies: true, reason: null, dailyFloor: 10, overdraftAllowance: 10 } };
        const older = { cost: 1, balance: 10, held: 2, available: 8, canAfford: true };
        return [
          credits.creditView(null, guest),
          credits.creditView(null, firstToday),
          credits.creditView({ balance: 10, held: 2 }, older),
          credits.creditView({ balance: 4, held: 0 }, { ...older, balance: 10, held: 0,
            available: 10 }),
          credits.creditView({ balance: 7, held: 1 }, null),
          credits.creditView(null, null),
        ];
        """
    )
    guest, first_today, settled, without_free_credits, no_quote, nothing = views
    assert guest == {
        "balance": 0,
        "held": 0,
        "available": 0,
        "note": "Guest accounts get no free credits.",
    }
    assert first_today["available"] == 10
    assert "10 free credits for today" in first_today["note"]
    assert "first generation of the day" in first_today["note"]
    assert settled == {"balance": 10, "held": 2, "available": 8, "note": ""}
    # Answers without freeCredits still explain credits the account does not hold yet.
    assert without_free_credits["available"] == 10
    assert "6 free credits for today" in without_free_credits["note"]
    assert no_quote == {"balance": 7, "held": 1, "available": 6, "note": ""}
    assert nothing == {"balance": None, "held": None, "available": None, "note": ""}


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ([1, 1, 1, 3], [17, 17, 16, 50]),
        ([1, 1, 1, 0], [34, 33, 33, 0]),
        ([3, 2, 1, 1], [43, 29, 14, 14]),
        ([0, 0, 0, 0], [0, 0, 0, 0]),
        ([5, 0, 0, 0], [100, 0, 0, 0]),
        ([1, 1, 1, 1, 1, 1, 1], [15, 15, 14, 14, 14, 14, 14]),
    ],
)
def test_card_shares_add_up_to_exactly_100(counts: list[int], expected: list[int]) -> None:
    shares = run_js(f"return format.shares({json.dumps(counts)});")
    assert shares == expected
    assert sum(shares) in {0, 100}


def test_only_rows_newer_than_what_was_shown_are_news() -> None:
    fresh = run_js(
        """
        const rows = [
          { id: "new", createdAt: 300 },
          { id: "known", createdAt: 250 },
          { id: "moved-up", createdAt: 100 },
          { id: "no-time", createdAt: null },
        ];
        const known = new Set(["known"]);
        return [
          [...format.freshRows({ first: true, known, newest: 200 }, rows)],
          [...format.freshRows({ first: false, known, newest: 200 }, rows)],
          [...format.freshRows({ first: false, known: new Set(), newest: null }, rows)],
        ];
        """
    )
    assert fresh == [[], ["new"], ["new", "known", "moved-up", "no-time"]]
