"""Account deletion at the service, against the real Firestore emulator: traffic of
several users made through the real use cases, one of them erased; then no prompt,
email or name of theirs is left in any document, the ledger audit passes, the
rollups still equal a recount (through the existing check), and the other users
keep everything. Also: who may delete whom, idempotence, a run that dies half-way,
a bounded budget, a uid with no data, and the operator command."""

from __future__ import annotations

import base64
import io
import json
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter
from PIL import Image

from generations_live.adapters import collections
from generations_live.adapters.config import settings
from generations_live.adapters.deletion import AccountDeletionStore, StepResult
from generations_live.adapters.generations import GenerationStore
from generations_live.adapters.rollups import RollupStore
from generations_live.domain import erasure
from generations_live.domain.credits import CreditPolicy
from generations_live.domain.errors import PermissionDenied
from generations_live.domain.identity import ANONYMOUS_DISPLAY_NAME, Caller, caller_from_claims
from generations_live.domain.models import (
    DeleteAccountDataRequest,
    GrantCreditsRequest,
    ReportGenerationRequest,
    TrackGenerationRequest,
    UpdateGenerationStatusRequest,
)
from generations_live.domain.settings import OutputPolicy
from generations_live.entrypoints import cli
from generations_live.services import billing, deletion, moderation, rollups, tracking
from harness.state import every_document, invariant_violations

# Plenty of daily credits: the tests are about erasing, not money.
SETTINGS = replace(
    settings(), credit_policy=CreditPolicy(overdraft_allowance=10, daily_free_floor=1000)
)
WORKER = caller_from_claims("worker-1", {"worker": True})
ADMIN = caller_from_claims("admin-1", {"admin": True, "name": "Platform Admin"})


def person(uid: str, name: str) -> Caller:
    """A signed-in user with a verified email, as the token names them."""
    return caller_from_claims(
        uid,
        {
            "name": name,
            "email": f"{uid}@example.com",
            "email_verified": True,
            "firebase": {"sign_in_provider": "password"},
        },
    )


OUTPUTS = OutputPolicy(bucket="demo-outputs")


def _tiny_png() -> str:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 40, 200)).save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


PREVIEW = _tiny_png()


def outputs_of(db: firestore.Client, uid: str) -> set[str]:
    """Paths of the user's preview and output records."""
    return {
        snapshot.reference.path
        for name in (collections.PREVIEWS, collections.GENERATION_OUTPUTS)
        for snapshot in db.collection(name).where(filter=FieldFilter("userId", "==", uid)).stream()
    }


@dataclass
class Traffic:
    """What one user left behind: the strings that must all disappear with them."""

    caller: Caller
    prompts: list[str]
    generations: list[str]

    @property
    def personal(self) -> list[str]:
        assert self.caller.email is not None
        return [*self.prompts, self.caller.email, self.caller.display_name]


def start(store: GenerationStore, caller: Caller, prompt: str, **fields: Any) -> str:
    request = TrackGenerationRequest.model_validate({"type": "image", "prompt": prompt, **fields})
    answer = tracking.track_generation(store, caller, request, SETTINGS, datetime.now(UTC))
    generation_id: str = answer["generationId"]
    return generation_id


def report(store: GenerationStore, caller: Caller, generation_id: str, status: str) -> None:
    """Report the outcome; a completion carries an output and a preview, kept apart
    from the generation's documents (and erased with them)."""
    fields: dict[str, Any] = {}
    if status == "completed":
        owner = store.generation_owner(generation_id)
        uri = f"gs://{OUTPUTS.bucket}/generations/{owner}/{generation_id}/0.png"
        fields = {"outputs": [{"uri": uri, "contentType": "image/png"}], "preview": PREVIEW}
    request = UpdateGenerationStatusRequest.model_validate(
        {"generationId": generation_id, "status": status, "durationMs": 1500, **fields}
    )
    tracking.update_generation_status(
        store, caller, request, datetime.now(UTC), output_policy=OUTPUTS
    )


def make_traffic(store: GenerationStore, caller: Caller, count: int) -> Traffic:
    """``count`` generations: completed, failed, canceled by the owner, private ones,
    and the last two still processing (their credits held)."""
    tag = uuid.uuid4().hex[:8]
    traffic = Traffic(caller, [], [])
    for index in range(count):
        prompt = f"{caller.display_name}'s secret prompt {index} {tag}"
        visibility = "private" if index % 3 == 0 else "public"
        generation_id = start(
            store, caller, prompt, visibility=visibility, requestId=f"req-{tag}-{index}"
        )
        traffic.prompts.append(prompt)
        traffic.generations.append(generation_id)
        if index < count - 2:
            outcome = ("completed", "failed", "canceled")[index % 3]
            report(store, caller if outcome == "canceled" else WORKER, generation_id, outcome)
    return traffic


@dataclass
class World:
    db: firestore.Client
    store: AccountDeletionStore
    alice: Traffic
    bob: Traffic
    carol: Traffic


@pytest.fixture
def world(db: firestore.Client) -> World:
    """Three users' traffic, grants, reports both ways, and rollups run over it all."""
    generations = GenerationStore(db)
    alice = make_traffic(generations, person("alice", "Alice Liddell"), 7)
    bob = make_traffic(generations, person("bob", "Bob Builder"), 4)
    carol = make_traffic(generations, person("carol", "Carol Danvers"), 3)
    # An admin's reason may name the person: it is personal data too.
    grant = GrantCreditsRequest.model_validate(
        {
            "userId": "alice",
            "amount": 50,
            "reason": "goodwill for Alice Liddell, alice@example.com",
            "grantId": f"grant-{uuid.uuid4().hex[:8]}",
        }
    )
    billing.grant_credits(generations, ADMIN, grant, lambda uid: True)
    # Bob reports Alice's generation; Alice reports Bob's, naming herself.
    moderation.report_generation(
        generations,
        bob.caller,
        ReportGenerationRequest.model_validate(
            {"generationId": alice.generations[1], "reason": "spam"}
        ),
    )
    moderation.report_generation(
        generations,
        alice.caller,
        ReportGenerationRequest.model_validate(
            {"generationId": bob.generations[0], "reason": "Alice Liddell says: not mine"}
        ),
    )
    assert invariant_violations(db) == {}  # also runs the rollups over all of it
    return World(db, AccountDeletionStore(db), alice, bob, carol)


def delete(
    store: AccountDeletionStore,
    caller: Caller,
    user_id: str | None = None,
    budget: deletion.Budget = deletion.CALL_BUDGET,
) -> dict[str, Any]:
    request = DeleteAccountDataRequest.model_validate(
        {} if user_id is None else {"userId": user_id}
    )
    return deletion.delete_account_data(store, caller, request, datetime.now(UTC), budget=budget)


def leftovers(db: firestore.Client, personal: list[str]) -> dict[str, list[str]]:
    """Documents of the whole database (every collection, recursively) that still
    hold one of these strings anywhere in their values or keys, by path."""
    found: dict[str, list[str]] = {}
    for path, fields in every_document(db).items():
        text = json.dumps(fields, default=str, ensure_ascii=False) + path
        hits = [value for value in personal if value in text]
        if hits:
            found[path] = hits
    return found


def generations_of(db: firestore.Client, uid: str) -> set[str]:
    feed = (
        db.collection(collections.LIVE_GENERATIONS)
        .where(filter=FieldFilter("userId", "==", uid))
        .stream()
    )
    return {snapshot.id for snapshot in feed}


def test_a_user_erases_their_own_data_and_the_rest_stays_exact(world: World) -> None:
    db, alice = world.db, world.alice
    assert leftovers(db, alice.personal)  # the search finds them before the deletion

    answer = delete(world.store, alice.caller)

    assert answer["done"] is True
    assert answer["userId"] == "alice"
    assert answer["canceled"] == 2  # the two still processing released their holds
    assert answer["removed"]["generations"] == 7
    assert answer["removed"]["reports"] == 2  # one about her generation, one she filed
    assert answer["removed"]["queueEntries"] == 1
    assert answer["removed"]["userDocuments"] >= 1  # her usage day(s)
    assert answer["anonymised"]["ledgerEntries"] == 1  # the grant's reason
    assert answer["anonymised"]["events"] == 7 + 7  # a start and an end each
    assert answer["anonymised"]["rollupUsers"] >= 1
    assert answer["anonymised"]["windows"] >= 1
    assert leftovers(db, alice.personal) == {}
    assert generations_of(db, "alice") == set()
    assert outputs_of(db, "alice") == set()
    assert outputs_of(db, "bob") != set()
    # Everything else still adds up: ledger audit, both halves, claims, and the
    # rollups (run again) against a recount, through the check the CLI uses.
    assert invariant_violations(db) == {}
    # The others keep all of theirs.
    assert generations_of(db, "bob") == set(world.bob.generations)
    assert generations_of(db, "carol") == set(world.carol.generations)
    assert leftovers(db, [world.bob.caller.display_name]) != {}
    # The ledger stays for accounting, without the reason that named her.
    ledger = {
        snapshot.id: snapshot.to_dict() or {}
        for snapshot in db.collection(collections.BILLING)
        .document("alice")
        .collection(collections.LEDGER)
        .stream()
    }
    grants = [fields for fields in ledger.values() if fields["kind"] == "grant"]
    assert [(g["amount"], g["reason"]) for g in grants] == [(50, erasure.ERASED_REASON)]
    assert any(entry_id.startswith("release_") for entry_id in ledger)
    # Her place in the analytics stays, under the neutral name.
    window = db.collection(collections.ANALYTICS_WINDOWS).document("7").get().to_dict() or {}
    top = {entry["userId"]: entry["userName"] for entry in window["topUsers"]}
    assert top["alice"] == ANONYMOUS_DISPLAY_NAME
    assert top["bob"] == "Bob Builder"
    # The queue entry of Bob's generation keeps its count, not her words.
    queued = db.collection(collections.MODERATION_QUEUE).document(world.bob.generations[0]).get()
    assert (queued.get("reportCount"), queued.get("lastReason")) == (1, erasure.ERASED_REASON)


def test_a_second_call_answers_the_same_and_writes_nothing(world: World) -> None:
    first = delete(world.store, world.alice.caller)
    before = every_document(world.db)

    second = delete(world.store, world.alice.caller)

    assert second == first
    assert every_document(world.db) == before


def test_new_data_after_a_finished_deletion_is_erased_by_the_next_call(world: World) -> None:
    delete(world.store, world.alice.caller)
    later = start(GenerationStore(world.db), world.alice.caller, "one more secret prompt")

    answer = delete(world.store, world.alice.caller)

    assert answer["done"] is True
    assert answer["removed"]["generations"] == 8
    assert generations_of(world.db, "alice") == set()
    assert leftovers(world.db, [*world.alice.personal, "one more secret prompt"]) == {}
    kept = world.db.collection(collections.ERASED_GENERATIONS).document(later).get()
    assert (kept.get("userId"), kept.get("status")) == ("alice", "canceled")
    assert invariant_violations(world.db) == {}


def test_an_admin_erases_another_user(world: World) -> None:
    answer = delete(world.store, ADMIN, "bob")

    assert answer["done"] is True
    assert answer["userId"] == "bob"
    assert leftovers(world.db, world.bob.personal) == {}
    assert generations_of(world.db, "alice") == set(world.alice.generations)
    assert invariant_violations(world.db) == {}


@pytest.mark.parametrize("role", ["user", "worker"])
def test_nobody_else_may_erase_a_user_and_a_refusal_writes_nothing(world: World, role: str) -> None:
    caller = world.carol.caller if role == "user" else WORKER
    before = every_document(world.db)

    with pytest.raises(PermissionDenied):
        delete(world.store, caller, "alice")

    assert every_document(world.db) == before


def test_a_uid_with_no_data_is_a_success_that_writes_nothing(world: World) -> None:
    before = every_document(world.db)

    answer = delete(world.store, ADMIN, "nobody-here")

    assert answer["done"] is True
    assert answer["removed"] == dict.fromkeys(erasure.REMOVED, 0)
    assert answer["anonymised"] == dict.fromkeys(erasure.ANONYMISED, 0)
    assert every_document(world.db) == before


class DiesAfter(AccountDeletionStore):
    """A store whose process dies (raises) after ``batches`` of its write batches."""

    def __init__(self, db: firestore.Client, batches: int) -> None:
        super().__init__(db)
        self.left = batches

    def _tick(self) -> None:
        if self.left == 0:
            raise RuntimeError("the instance died")
        self.left -= 1

    def erase_generations(self, *args: Any, **kwargs: Any) -> StepResult:
        result = super().erase_generations(*args, **kwargs)
        self._tick()
        return result

    def anonymise_events(self, *args: Any, **kwargs: Any) -> StepResult:
        result = super().anonymise_events(*args, **kwargs)
        self._tick()
        return result


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of two generations and two documents, so a few users make many batches."""
    monkeypatch.setattr(deletion, "GENERATIONS_PER_BATCH", 2)
    monkeypatch.setattr(deletion, "DOCUMENTS_PER_BATCH", 2)


@pytest.mark.usefixtures("small_batches")
@pytest.mark.parametrize("dies_after", [0, 1, 3, 5])
def test_a_run_that_dies_half_way_is_finished_by_the_next_call(
    world: World, dies_after: int
) -> None:
    with pytest.raises(RuntimeError, match="died"):
        delete(DiesAfter(world.db, dies_after), world.alice.caller)
    # What was done is consistent: the audit, both halves, the rollups against a recount.
    assert invariant_violations(world.db) == {}
    # Another claim on the uid is not left behind to make the next call wait.
    marker = world.store.progress("alice")
    assert marker is not None
    assert not marker.done

    answer = delete(world.store, world.alice.caller)

    assert answer["done"] is True
    assert answer["removed"]["generations"] == 7
    assert answer["canceled"] == 2
    assert leftovers(world.db, world.alice.personal) == {}
    assert invariant_violations(world.db) == {}


@pytest.mark.usefixtures("small_batches")
def test_a_bounded_call_answers_not_done_and_the_next_calls_finish(world: World) -> None:
    one_batch = deletion.Budget(max_batches=1, max_seconds=60)
    answers = [delete(world.store, world.alice.caller, budget=one_batch)]
    while not answers[-1]["done"]:
        assert len(answers) < 100
        answers.append(delete(world.store, world.alice.caller, budget=one_batch))

    assert len(answers) > len(erasure.STEPS)  # each call did one batch
    assert [answer["done"] for answer in answers[:-1]] == [False] * (len(answers) - 1)
    assert answers[0]["step"] == erasure.Step.GENERATIONS.value
    assert answers[-1]["removed"]["generations"] == 7
    assert answers[-1]["canceled"] == 2
    assert leftovers(world.db, world.alice.personal) == {}
    assert invariant_violations(world.db) == {}


def test_a_time_budget_ends_a_call(world: World) -> None:
    ticks = iter(range(1000))
    answer = deletion.delete_account_data(
        world.store,
        world.alice.caller,
        DeleteAccountDataRequest.model_validate({}),
        datetime.now(UTC),
        budget=deletion.Budget(max_batches=1000, max_seconds=1),
        clock=lambda: float(next(ticks)),
    )

    assert answer["done"] is False  # one batch, then the clock ran out


def test_the_operator_command_erases_a_user_and_check_agrees(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["delete-account", "--uid", "carol"])
    out, _ = capsys.readouterr()

    assert code == cli.EXIT_OK
    assert json.loads(out)["done"] is True
    assert leftovers(world.db, world.carol.personal) == {}
    assert cli.main(["rollup", "--lag", "0"]) == cli.EXIT_OK
    today = datetime.now(UTC).date()
    yesterday = (today - timedelta(days=1)).isoformat()
    assert cli.main(["check", "--from", yesterday, "--to", today.isoformat()]) == cli.EXIT_OK
    assert cli.main(["audit-ledgers"]) == cli.EXIT_OK
    capsys.readouterr()


@pytest.mark.parametrize("uid", ["a/b", "", "x" * 129, "bad uid"])
def test_the_operator_command_refuses_a_malformed_uid(
    capsys: pytest.CaptureFixture[str], uid: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["delete-account", "--uid", uid])

    assert exited.value.code == cli.EXIT_USAGE
    assert "is not a uid" in capsys.readouterr().err


def test_a_backfill_after_a_deletion_keeps_the_counts_and_not_the_name(world: World) -> None:
    delete(world.store, world.alice.caller)
    rollup_store = RollupStore(world.db)
    today = datetime.now(UTC).date()

    rollups.backfill(
        rollup_store,
        rollups.GENERATION_ROLLUP,
        today,
        today,
        datetime.now(UTC) + timedelta(seconds=1),
        lag=timedelta(0),
    )

    window = rollup_store.window(rollups.GENERATION_ROLLUP.spec, 1) or {}
    assert {"userId": "alice", "userName": ANONYMOUS_DISPLAY_NAME, "count": 7} in window["topUsers"]
    assert invariant_violations(world.db) == {}


def test_the_auth_option_needs_both_emulators_or_neither(
    db: firestore.Client, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_traffic(GenerationStore(db), person("carol", "Carol Danvers"), 3)
    monkeypatch.delenv("FIREBASE_AUTH_EMULATOR_HOST", raising=False)
    before = every_document(db)

    with pytest.raises(SystemExit) as exited:
        cli.main(["delete-account", "--uid", "carol", "--auth"])

    assert exited.value.code == cli.EXIT_USAGE
    assert "FIREBASE_AUTH_EMULATOR_HOST" in capsys.readouterr().err
    assert every_document(db) == before


def test_history_without_its_public_half_goes_and_nothing_of_another_user_does(
    db: firestore.Client,
) -> None:
    generations = GenerationStore(db)
    bob = make_traffic(generations, person("bob", "Bob Builder"), 3)
    alice = make_traffic(generations, person("alice", "Alice Liddell"), 3)
    # Alice's history names a generation of Bob's, and keeps one whose public half is gone.
    bobs = bob.generations[0]
    generations.private_ref("alice", bobs).set({"userId": "alice", "prompt": alice.prompts[0]})
    generations.public_ref(alice.generations[0]).delete()
    events_before = bobs_events(db)

    answer = delete(AccountDeletionStore(db), ADMIN, "alice")

    assert answer["done"] is True
    assert answer["removed"]["generations"] == 4  # three of hers and the stray document
    assert leftovers(db, alice.personal) == {}
    assert generations_of(db, "bob") == set(bob.generations)
    assert db.collection(collections.ERASED_GENERATIONS).document(bobs).get().exists is False
    assert bobs_events(db) == events_before
    assert invariant_violations(db, with_rollups=False) == {}


def bobs_events(db: firestore.Client) -> dict[str, Any]:
    events = db.collection(collections.GENERATION_EVENTS).stream()
    return {
        event.id: event.to_dict()
        for event in events
        if (event.to_dict() or {}).get("userId") == "bob"
    }


def test_a_refresh_that_read_the_names_before_a_deletion_cannot_write_them_back(
    world: World,
) -> None:
    rollup_store = RollupStore(world.db)
    spec = rollups.GENERATION_ROLLUP.spec
    today = datetime.now(UTC).date()
    day_docs, users, names = rollup_store.window_inputs(spec, today.isoformat())
    assert names["alice"] == "Alice Liddell"  # read before the deletion begins
    stale = {
        days: rollups.GENERATION_ROLLUP.answer(day_docs, users, names, today, days)
        for days in (1, 7)
    }

    delete(world.store, world.alice.caller)
    rollup_store.write_windows(spec, stale, datetime.now(UTC))

    for days in (1, 7):
        top = (rollup_store.window(spec, days) or {})["topUsers"]
        alice = next(entry for entry in top if entry["userId"] == "alice")
        assert alice["userName"] == ANONYMOUS_DISPLAY_NAME
        bob = next(entry for entry in top if entry["userId"] == "bob")
        assert bob["userName"] == "Bob Builder"  # only erased users lose their name
    assert not leftovers(world.db, ["Alice Liddell"])
