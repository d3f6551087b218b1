"""Property-based tests of every callable and the payment webhook, through the
real handlers (served in-process by functions-framework from functions/main.py,
so thousands of examples stay fast) against the Firestore emulator, with real
Auth-emulator ID tokens: whatever the payload, the answer is a success or a
declared error code, never ``internal``, and a refused call writes nothing.
"""

from __future__ import annotations

import base64
import io
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from generations_live.domain.documents import generation_id_for_request
from generations_live.domain.outputs import OUTPUTS_PREFIX
from generations_live.domain.signatures import SIGNATURE_HEADER, sign
from generations_live.entrypoints.edge import request_model
from generations_live.entrypoints.registry import DEPLOYED
from harness.clients import AuthEmulator
from harness.emulators import PROJECT_ID, EmulatorSuite, FirestoreEmulator
from harness.in_process import function_client

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
SEED_REQUEST = "seed-request-1"
WEBHOOK_SECRET = "fuzz-webhook-secret"
DECLARED = {
    "INVALID_ARGUMENT",
    "PERMISSION_DENIED",
    "NOT_FOUND",
    "FAILED_PRECONDITION",
    "RESOURCE_EXHAUSTED",
    "ABORTED",
}
# Hypothesis warns when it prints a megabyte example; the megabytes are the point.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Generating overly large repr:hypothesis.errors.HypothesisWarning"
)
# Every callable main.py deploys, with the fields its request model accepts.
CALLABLES = {
    name: tuple(
        field.alias or field_name
        for field_name, field in request_model(deployed.handler).model_fields.items()
    )
    for name, deployed in DEPLOYED.items()
    if deployed.handler is not None
}
# Text an attacker sends to break storage, logs or the feed: lone surrogates,
# direction overrides, zero-width characters, a megabyte (past the body limit).
HOSTILE = st.one_of(
    st.sampled_from(
        [
            "\ud800",
            "rain \udfff drops",
            "\u202eevil\u202c",
            "\u200b\u200c\u200d\ufeff",
            "a" + " " * 1_048_576,
            "x" * 1_048_576,
            "\U0001f600" * 3001,
            "\x00\x01\x1b[31m",
        ]
    ),
    st.text(alphabet=st.characters(categories=["Cs", "Cf", "Cc", "Zs"]), max_size=50),
)
# Values close to valid ones reach the handlers' deeper paths; junk reaches the edges.
PLAUSIBLE = st.one_of(
    st.sampled_from(["image", "video", "audio", "text", "edit", "create", "private", "public"]),
    st.sampled_from(["processing", "completed", "failed", "canceled", "gen-1", "fuzz-user"]),
    st.sampled_from(["gemini", "Sora", "req-00000001", "a/b", "", " ", "x" * 4001]),
    st.integers(min_value=-5, max_value=100),
    st.just({"code": "oom", "message": "GPU"}),
    HOSTILE,
)
JSON = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=12,
)
HUGE = st.text(min_size=4000, max_size=12_000)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A valid value nine times in ten, otherwise anything."""
    return st.integers(min_value=0, max_value=9).flatmap(
        lambda draw: strategy if draw else st.one_of(PLAUSIBLE, JSON)
    )


def _tiny_png() -> str:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 20, 30)).save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


TINY_PNG = _tiny_png()


def output_shaped(generation_id: str, uid: str) -> st.SearchStrategy[Any]:
    """Output references near the rules: the generation's own prefix, others', hosts."""
    uris = st.sampled_from(
        [
            f"gs://{PROJECT_ID}.appspot.com/{OUTPUTS_PREFIX}{uid}/{generation_id}/0.png",
            f"gs://{PROJECT_ID}.appspot.com/{OUTPUTS_PREFIX}someone/{generation_id}/0.png",
            "gs://another-bucket/x.png",
            "https://evil.example.com/0.png",
            "http://127.0.0.1:9/0.png",
            "http://169.254.169.254/latest",
            "javascript:alert(1)",
        ]
    )
    return st.fixed_dictionaries(
        {"contentType": maybe(st.sampled_from(["image/png", "image/svg+xml", "text/plain"]))},
        optional={
            "uri": maybe(st.one_of(uris, HOSTILE)),
            "text": maybe(st.one_of(st.just("hello"), HOSTILE)),
            "width": maybe(st.integers(min_value=-1, max_value=40_000)),
            "bytes": maybe(st.integers(min_value=-1, max_value=2**41)),
        },
    )


def valid_shaped(name: str, generation_id: str, uid: str) -> st.SearchStrategy[Any]:
    """Payloads shaped like real requests, so handlers run past validation."""
    types = st.sampled_from(["image", "video", "audio", "text"])
    prompt = st.one_of(
        st.sampled_from(["a red fox", "  padded  ", "ünïcødé ✨ 🦊", "p" * 4000]),
        st.text(min_size=1, max_size=300).filter(str.strip),
        HOSTILE,
    )
    batch = st.integers(min_value=1, max_value=8)
    days = st.integers(min_value=1, max_value=90)
    shapes: dict[str, st.SearchStrategy[Any]] = {
        "trackGeneration": st.fixed_dictionaries(
            {"type": maybe(types), "prompt": maybe(prompt)},
            optional={
                "engine": maybe(st.from_regex(r"[a-z0-9][a-z0-9._-]{0,39}", fullmatch=True)),
                "batchSize": maybe(batch),
                "requestId": maybe(st.from_regex(r"[A-Za-z0-9_-]{8,20}", fullmatch=True)),
                "visibility": maybe(st.sampled_from(["public", "private"])),
                "mode": maybe(st.sampled_from(["create", "edit"])),
                "regeneratedFrom": maybe(st.sampled_from([generation_id, "no-such-generation"])),
            },
        ),
        "updateGenerationStatus": st.fixed_dictionaries(
            {
                "generationId": maybe(st.sampled_from([generation_id, "no-such-generation"])),
                "status": maybe(st.sampled_from(["completed", "failed", "canceled", "processing"])),
            },
            optional={
                "durationMs": maybe(st.integers(min_value=0, max_value=600_000_000)),
                "error": maybe(st.fixed_dictionaries({"code": st.just("oom")})),
                "outputs": maybe(st.lists(output_shaped(generation_id, uid), max_size=9)),
                "preview": maybe(st.sampled_from([TINY_PNG, "bm90IGFuIGltYWdl", "***", ""])),
            },
        ),
        "markNotificationsRead": st.fixed_dictionaries(
            {},
            optional={
                "ids": maybe(st.lists(st.sampled_from(["n1", "no-such", "a/b", ""]), max_size=101))
            },
        ),
        "registerWebhookEndpoint": st.fixed_dictionaries(
            {
                "url": maybe(
                    st.one_of(
                        st.sampled_from(
                            [
                                "https://hooks.example.com/in",
                                "http://127.0.0.1:9/in",
                                "https://10.0.0.1/in",
                                "https://[::ffff:169.254.169.254]/",
                                "http://0177.0.0.1/",
                                "javascript:alert(1)",
                            ]
                        ),
                        HOSTILE,
                    )
                ),
                "events": maybe(
                    st.lists(
                        st.sampled_from(["generation.started", "credits.low", "webhook.test"]),
                        max_size=9,
                    )
                ),
            }
        ),
        "listWebhookEndpoints": st.fixed_dictionaries({}),
        "disableWebhookEndpoint": st.fixed_dictionaries(
            {"endpointId": maybe(st.sampled_from(["nosuchendpoint", "a/b", ""]))}
        ),
        "rotateWebhookSecret": st.fixed_dictionaries(
            {"endpointId": maybe(st.sampled_from(["nosuchendpoint", "a/b", ""]))}
        ),
        "getGenerationOutputs": st.fixed_dictionaries(
            {"generationId": maybe(st.sampled_from([generation_id, "no-such-generation"]))}
        ),
        "getLiveGenerations": st.fixed_dictionaries(
            {},
            optional={
                "limit": maybe(st.integers(min_value=1, max_value=50)),
                "type": maybe(types),
                "status": maybe(st.sampled_from(["processing", "completed"])),
            },
        ),
        "quoteGeneration": st.fixed_dictionaries(
            {"type": maybe(types)},
            optional={
                "mode": maybe(st.sampled_from(["create", "edit"])),
                "batchSize": maybe(batch),
            },
        ),
        "getUserUsage": st.fixed_dictionaries({}, optional={"days": maybe(days)}),
        "grantCredits": st.fixed_dictionaries(
            {
                "userId": maybe(st.sampled_from([uid, uid, uid, "nobody-at-all"])),
                "amount": maybe(st.integers(min_value=1, max_value=1_000_000)),
                "reason": maybe(st.sampled_from(["goodwill", "refund for a failed batch"])),
                "grantId": maybe(st.from_regex(r"[A-Za-z0-9_-]{8,20}", fullmatch=True)),
            }
        ),
        "getGenerationAnalytics": st.fixed_dictionaries({}, optional={"days": maybe(days)}),
        "getBillingAnalytics": st.fixed_dictionaries({}, optional={"days": maybe(days)}),
        "moderateGeneration": st.fixed_dictionaries(
            {
                "generationId": maybe(st.sampled_from([generation_id, "no-such-generation"])),
                "action": maybe(st.sampled_from(["hide", "restore"])),
                "reason": maybe(st.one_of(st.sampled_from(["spam", "off-topic"]), HOSTILE)),
            }
        ),
        "reportGeneration": st.fixed_dictionaries(
            {
                "generationId": maybe(st.sampled_from([generation_id, "no-such-generation"])),
                "reason": maybe(st.one_of(st.sampled_from(["spam", "unsafe"]), HOSTILE)),
            }
        ),
        "getModerationQueue": st.fixed_dictionaries(
            {}, optional={"limit": maybe(st.integers(min_value=1, max_value=50))}
        ),
        "deleteAccountData": st.fixed_dictionaries(
            {}, optional={"userId": maybe(st.sampled_from([uid, "no-such-user", "a/b"]))}
        ),
    }
    return shapes[name]


def payloads(fields: tuple[str, ...]) -> st.SearchStrategy[Any]:
    # A request without fields still gets fields nobody declared.
    names = st.sampled_from(fields) if fields else st.text(max_size=20)
    known = st.dictionaries(names, st.one_of(PLAUSIBLE, JSON, HUGE), max_size=6)
    extra = st.dictionaries(st.text(max_size=20), JSON, max_size=3)
    mixed = st.builds(lambda a, b: {**b, **a}, known, extra)
    return st.one_of(known, known, mixed, JSON, HUGE)


@dataclass(frozen=True)
class FuzzWorld:
    firestore: FirestoreEmulator
    tokens: dict[str, str]
    creator_uid: str


@pytest.fixture(scope="module")
def world(
    firestore_server: FirestoreEmulator, suite: EmulatorSuite, auth: AuthEmulator
) -> Iterator[FuzzWorld]:
    """In-process functions on the standalone Firestore emulator, trusting the
    suite's Auth emulator (grants look their target user up there)."""
    patch = pytest.MonkeyPatch()
    patch.setenv("FIRESTORE_EMULATOR_HOST", firestore_server.address)
    patch.setenv("GCLOUD_PROJECT", PROJECT_ID)
    patch.setenv("FIREBASE_AUTH_EMULATOR_HOST", suite.auth_host)
    patch.setenv("PAYMENT_WEBHOOK_SECRET", WEBHOOK_SECRET)
    creator = auth.create_user(display_name="Fuzz Creator")
    tokens = {
        "creator": creator.id_token,
        "worker": auth.create_user(display_name="Fuzz Worker", claims={"worker": True}).id_token,
        "admin": auth.create_user(display_name="Fuzz Admin", claims={"admin": True}).id_token,
    }
    yield FuzzWorld(firestore=firestore_server, tokens=tokens, creator_uid=creator.uid)
    patch.undo()


def all_documents(emulator: FirestoreEmulator) -> dict[str, Any]:
    """Every document of every collection, by name, read as an administrator."""
    reply = requests.post(
        f"{emulator.documents_url()}:runQuery",
        json={"structuredQuery": {"from": [{"allDescendants": True}]}},
        headers={"Authorization": "Bearer owner"},
        timeout=30,
    )
    return {
        row["document"]["name"]: row["document"].get("fields")
        for row in reply.json()
        if "document" in row
    }


def seed(world: FuzzWorld, client: FlaskClient) -> None:
    """A clean database with one processing generation of the creator."""
    world.firestore.wipe()
    started = client.post(
        "/",
        json={"data": {"type": "text", "prompt": "seed", "requestId": SEED_REQUEST}},
        headers={"Authorization": f"Bearer {world.tokens['creator']}"},
    )
    assert started.status_code == 200, started.get_json()


@pytest.mark.parametrize("name", sorted(CALLABLES))
def test_callables_answer_declared_codes_and_refusals_write_nothing(
    world: FuzzWorld, name: str
) -> None:
    client = function_client(name)
    seeder = function_client("trackGeneration")
    outcomes: dict[str, int] = {}
    seeded_id = generation_id_for_request(world.creator_uid, SEED_REQUEST)
    seeded: dict[str, Any] = {}  # the documents after seeding; empty until seeded

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        data=st.one_of(
            valid_shaped(name, seeded_id, world.creator_uid),
            valid_shaped(name, seeded_id, world.creator_uid),
            payloads(CALLABLES[name]),
        ),
        role=st.sampled_from(["creator", "worker", "admin"]),
    )
    def call(data: Any, role: str) -> None:
        # A refusal is proven to leave the seeded documents as they were, so
        # the next example starts from them; a success may have written, so
        # the next one seeds afresh.
        if not seeded:
            seed(world, seeder)
            seeded.update(all_documents(world.firestore))
        reply = client.post(
            "/", json={"data": data}, headers={"Authorization": f"Bearer {world.tokens[role]}"}
        )
        body = reply.get_json()
        if "result" in body:
            outcomes["ok"] = outcomes.get("ok", 0) + 1
            seeded.clear()
            return
        status = body["error"]["status"]
        outcomes[status] = outcomes.get(status, 0) + 1
        assert status in DECLARED, (name, data, body)
        assert all_documents(world.firestore) == seeded, (name, data, status)

    call()
    print(f"{name}: {sum(outcomes.values())} examples {dict(sorted(outcomes.items()))}")
    assert sum(outcomes.values()) >= min(EXAMPLES, 100)


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
@given(
    body=st.one_of(
        JSON.map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=2000),
        HOSTILE.map(lambda text: json.dumps({"id": text, "type": text}).encode()),
    ),
    signed=st.booleans(),
    skew=st.sampled_from([0, 0, 0, -400, 400]),
    forged=st.one_of(
        st.none(),
        st.text(alphabet=st.characters(max_codepoint=0xFF, exclude_categories=["Cc"])),
    ),
)
def test_webhook_answers_200_400_401_or_413_and_refusals_write_nothing(
    world: FuzzWorld, body: bytes, signed: bool, skew: int, forged: str | None
) -> None:
    client = function_client("paymentWebhook")
    world.firestore.wipe()
    headers = {"Content-Type": "application/json"}
    if signed:
        headers[SIGNATURE_HEADER] = sign(WEBHOOK_SECRET, int(time.time()) + skew, body)
    elif forged is not None:
        headers[SIGNATURE_HEADER] = forged
    reply = client.post("/", data=body, headers=headers)
    assert reply.status_code in (200, 400, 401, 413), reply.get_data()
    answer = reply.get_json() or {}
    if reply.status_code != 200 or not (answer.get("applied") or answer.get("parked")):
        assert all_documents(world.firestore) == {}


def test_the_in_process_functions_reach_auth_and_firestore(world: FuzzWorld) -> None:
    """The fuzzed handlers are the real ones: a valid grant lands in the ledger."""
    seed(world, function_client("trackGeneration"))
    grant = {
        "userId": world.creator_uid,
        "amount": 5,
        "reason": "check",
        "grantId": "grant-check-1",
    }
    reply = function_client("grantCredits").post(
        "/", json={"data": grant}, headers={"Authorization": f"Bearer {world.tokens['admin']}"}
    )
    assert reply.get_json()["result"]["applied"] is True, reply.get_json()
    assert any("grant_grant-check-1" in name for name in all_documents(world.firestore))
