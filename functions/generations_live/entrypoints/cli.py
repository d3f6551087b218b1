"""The operator command line: ``python -m generations_live COMMAND``.

Works against the emulator (``FIRESTORE_EMULATOR_HOST`` set) or a real project
(application default credentials), with ``--project`` or ``GCLOUD_PROJECT``.
Every command validates its arguments before touching Firestore. Exit codes:
0 done, 1 a failed check or a refused operation, 2 bad usage (argparse's).
Results go to stdout, messages and progress bars to stderr; bars show only
when stderr is a terminal.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import getpass
import json
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from firebase_admin import exceptions as firebase_exceptions
from google.api_core import exceptions as google_exceptions
from google.auth import exceptions as auth_exceptions
from google.cloud import firestore

from generations_live.adapters import accounts
from generations_live.adapters.config import notice_policy, settings
from generations_live.adapters.deletion import AccountDeletionStore
from generations_live.adapters.feed_snapshots import FeedSnapshotStore
from generations_live.adapters.firestore import default_client
from generations_live.adapters.generations import GenerationStore
from generations_live.adapters.role_audit import RoleAuditLog
from generations_live.adapters.rollups import RollupBusy, RollupStore
from generations_live.domain import billing_analytics
from generations_live.domain.errors import DomainError
from generations_live.domain.lifecycle import GenerationType
from generations_live.domain.models import DeleteAccountDataRequest
from generations_live.domain.roles import Role, RoleAction, operator_problem, uid_problem
from generations_live.domain.windows import MAX_WINDOW_DAYS
from generations_live.entrypoints.cli_webhooks import add_webhook_commands
from generations_live.services import (
    billing,
    deletion,
    feed_snapshots,
    maintenance,
    roles,
    rollups,
    tracking,
)

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_FAILED = 1  # refused or failed: a held rollup, a Firestore error
EXIT_USAGE = 2

ROLLUPS_BY_NAME = {rollup.spec.name: rollup for rollup in rollups.ROLLUPS}
ALL_ROLLUPS = "all"
# A year, leap day included: longer ranges are almost surely a typo.
MAX_RANGE_DAYS = 366
MAX_LAG_SECONDS = 24 * 60 * 60
MAX_CLEANUP_BATCH = 500
# delete-account: batches per round between progress updates.
DELETE_BATCHES_PER_ROUND = 50
# roles list: accounts read per run when no --uid is given (Auth cannot query by claim).
DEFAULT_ROLE_SCAN = 10_000
MAX_ROLE_SCAN = 1_000_000
# CSV columns of export-analytics: the window's perDay rows.
ANALYTICS_COLUMNS: dict[str, tuple[str, ...]] = {
    "generations": ("day", *(t.value for t in GenerationType), "total"),
    "billing": ("day", *billing_analytics.CREDIT_COUNTERS),
}
# The public fields export-generations reads (a projection, so nothing else
# leaves Firestore) and writes, after the document id. No email or private
# prompt: the public documents have neither, and the prompt is not exported.
# What spreadsheets read as the start of a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
EXPORTED_FIELDS = (
    "createdAt",
    "completedAt",
    "userId",
    "userName",
    "type",
    "engine",
    "status",
    "durationMs",
)
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# The uids deleteAccountData accepts (domain.models.UserId).
_DELETED_UID = re.compile(r"[A-Za-z0-9_-]{1,128}")


class UsageError(Exception):
    """Arguments that are each valid but not together (exit 2)."""


class CommandFailed(Exception):
    """The command could not do its work (exit 1)."""


# Argument types: each raises ArgumentTypeError, which argparse reports as usage.


def iso_day(text: str) -> date:
    if not _ISO_DAY.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a date in the form YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a valid date: {exc}") from exc


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from exc
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not between {low} and {high}")
        return value

    parse.__name__ = "whole number"  # argparse names the type in some messages
    return parse


def account_uid(text: str) -> str:
    problem = uid_problem(text)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return text


def operator_name(text: str) -> str:
    problem = operator_problem(text)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return text.strip()


def deleted_uid(text: str) -> str:
    if not _DELETED_UID.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a uid (1 to 128 of A-Z a-z 0-9 _ -)")
    return text


def requested_days(args: argparse.Namespace) -> tuple[date, date]:
    """The validated ``--from``/``--to`` UTC days, both included."""
    first, last = args.first_day, args.last_day
    if first > last:
        raise UsageError(f"--from {first} comes after --to {last}")
    days = (last - first).days + 1
    if days > MAX_RANGE_DAYS:
        raise UsageError(f"--from/--to span {days} days: at most {MAX_RANGE_DAYS}")
    today = datetime.now(UTC).date()
    if last > today:
        raise UsageError(f"--to {last} is in the future (today is {today} UTC)")
    return first, last


# Connections and output.


def _client(project: str | None) -> firestore.Client:
    if project:
        os.environ["GCLOUD_PROJECT"] = project
    if not (os.environ.get("GCLOUD_PROJECT") or os.environ.get("GOOGLE_CLOUD_PROJECT")):
        raise UsageError("set --project or GCLOUD_PROJECT (the Firebase project id)")
    client = default_client()
    # The client is built once per process: a later --project cannot change it.
    if project and client.project != project:
        raise UsageError(f"this process already uses project {client.project!r}, not {project!r}")
    return client


def _store(project: str | None) -> GenerationStore:
    return GenerationStore(_client(project), notices=notice_policy())


def _rollup_store(project: str | None) -> RollupStore:
    return RollupStore(_client(project))


def _role_audit(project: str | None) -> RoleAuditLog:
    """The audit log, once Firebase Auth is reachable the same way as Firestore."""
    client = _client(project)
    firestore_emulated = bool(os.environ.get("FIRESTORE_EMULATOR_HOST"))
    if firestore_emulated != bool(os.environ.get("FIREBASE_AUTH_EMULATOR_HOST")):
        # Otherwise claims could change in one place and their audit land in another.
        raise UsageError(
            "set both FIRESTORE_EMULATOR_HOST and FIREBASE_AUTH_EMULATOR_HOST, or neither: "
            "roles live in Firebase Auth and their audit in Firestore"
        )
    accounts.ensure_app()
    return RoleAuditLog(client)


def _os_user() -> str | None:
    """The local account the command runs under, recorded beside ``--by`` (best effort)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def _selected(name: str) -> list[rollups.Rollup]:
    return list(rollups.ROLLUPS) if name == ALL_ROLLUPS else [ROLLUPS_BY_NAME[name]]


@contextlib.contextmanager
def _progress(
    description: str, unit: str, total: int | None = None
) -> Iterator[Callable[[int], None]]:
    """A bar to advance by a count. For a person watching: on stderr, and off
    (``disable=None``) when stderr is not a terminal, so pipes, CI and tests stay quiet."""
    try:
        from tqdm import tqdm  # noqa: PLC0415 - the CLI's extra, not a deployed dependency
    except ModuleNotFoundError as missing:
        raise CommandFailed(
            "the operator commands need their extra: pip install -r functions/requirements-cli.txt"
        ) from missing
    with tqdm(desc=description, unit=unit, total=total, file=sys.stderr, disable=None) as bar:

        def advance(count: int) -> None:
            bar.update(count)

        yield advance


@contextlib.contextmanager
def _output(target: str) -> Iterator[TextIO]:
    """Stdout for ``-``; otherwise the file, written whole or not at all."""
    if target == "-":
        yield sys.stdout
        return
    path = Path(target)
    if not path.parent.is_dir():
        raise UsageError(f"--out {target}: no directory {path.parent}")
    partial = path.with_name(path.name + ".partial")
    try:
        sink = partial.open("w", newline="", encoding="utf-8")
    except OSError as exc:
        raise CommandFailed(f"cannot write {target}: {exc.strerror}") from exc
    try:
        with sink:
            yield sink
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def _timestamp(value: Any) -> str:
    return value.astimezone(UTC).isoformat() if isinstance(value, datetime) else ""


# Commands.


def audit_ledgers(args: argparse.Namespace) -> int:
    """Check that every balance and hold equals its ledger."""
    report = billing.audit_ledgers(_store(args.project))
    print(json.dumps(report, indent=2, sort_keys=True))
    if report["mismatches"]:
        print(f"{len(report['mismatches'])} account(s) disagree with their ledger", file=sys.stderr)
        return EXIT_CHECK_FAILED
    print(f"all {report['accountsChecked']} account(s) match their ledger", file=sys.stderr)
    return EXIT_OK


def sweep_stuck(args: argparse.Namespace) -> int:
    """Fail generations stuck in processing, as the scheduled sweeper does."""
    swept = tracking.sweep_stuck_generations(_store(args.project), settings(), datetime.now(UTC))
    print(f"failed {swept} stuck generation(s) and released their credits")
    return EXIT_OK


def refresh_feed(args: argparse.Namespace) -> int:
    """Rebuild every feed snapshot that differs from its query, as the schedule does."""
    report = feed_snapshots.rebuild_all(FeedSnapshotStore(_client(args.project)))
    print(json.dumps(report.counts(), sort_keys=True))
    return EXIT_OK


def rollup(args: argparse.Namespace) -> int:
    """Fold new events into the analytics rollups now, as the scheduled job does."""
    lag = timedelta(seconds=args.lag) if args.lag is not None else settings().rollup_lag
    store = _rollup_store(args.project)
    now = datetime.now(UTC)
    exit_code = EXIT_OK
    for each in _selected(args.rollup):
        name = each.spec.name
        try:
            with _progress(f"{name} rollup", "event") as advance:
                report = rollups.run_rollup(store, each, now, lag=lag, on_batch=advance)
        except RollupBusy as busy:
            print(f"{name}: not run: {busy.message}", file=sys.stderr)
            exit_code = EXIT_FAILED
            continue
        as_of = _timestamp(report.as_of) or "never"
        line = (
            f"{name}: folded {report.events} event(s) in {report.batches} batch(es), asOf {as_of}"
        )
        if not report.caught_up:
            line += " (not caught up: run again)"
        print(line)
    return exit_code


def backfill(args: argparse.Namespace) -> int:
    """Rebuild the rollups of some days from the raw documents."""
    first, last = requested_days(args)
    store = _rollup_store(args.project)
    lag = settings().rollup_lag
    exit_code = EXIT_OK
    for each in _selected(args.rollup):
        name = each.spec.name
        try:
            days = rollups.backfill(store, each, first, last, datetime.now(UTC), lag=lag)
        except RollupBusy as busy:
            print(f"{name}: not rebuilt: {busy.message}", file=sys.stderr)
            exit_code = EXIT_FAILED
            continue
        print(f"{name}: rebuilt {len(days)} day(s), {days[0]} to {days[-1]}")
    return exit_code


def check(args: argparse.Namespace) -> int:
    """Compare the rollups of some days with a recount of the raw documents."""
    first, last = requested_days(args)
    store = _rollup_store(args.project)
    days = (last - first).days + 1
    differences: dict[str, dict[str, Any]] = {}
    for each in _selected(args.rollup):
        mismatches = rollups.check(store, each, first, last)
        if mismatches:
            differences[each.spec.name] = mismatches
            print(
                f"{each.spec.name}: {len(mismatches)} of {days} day(s) differ from a recount",
                file=sys.stderr,
            )
    if differences:
        # Stdout carries one JSON document, for whoever pipes it on.
        print(json.dumps(differences, indent=2, sort_keys=True, default=str))
        return EXIT_CHECK_FAILED
    names = " and ".join(each.spec.name for each in _selected(args.rollup))
    print(f"{names} rollups match a recount for {days} days")
    return EXIT_OK


def cleanup(args: argparse.Namespace) -> int:
    """Delete generations past the retention, as the daily scheduled cleanup does."""
    store = _store(args.project)
    config = settings()
    now = datetime.now(UTC)
    with _progress("deleting expired generations", "generation") as advance:
        deleted = maintenance.cleanup_generations(
            store,
            config,
            now,
            batch_size=args.batch_size,
            max_batches=args.max_batches,
            on_batch=advance,
        )
    cutoff = now - config.retention
    print(f"deleted {deleted} generation(s) created before {cutoff:%Y-%m-%d %H:%M} UTC")
    if deleted >= args.batch_size * args.max_batches:
        print("stopped at --max-batches: run again for the rest", file=sys.stderr)
    return EXIT_OK


def export_analytics(args: argparse.Namespace) -> int:
    """Write a window's day-by-day counts, as the admin dashboard reads them, to CSV."""
    each = ROLLUPS_BY_NAME[args.rollup]
    columns = ANALYTICS_COLUMNS[args.rollup]
    with _output(args.out) as sink:
        answer = rollups.window_answer(_rollup_store(args.project), each, args.days)
        writer = csv.DictWriter(
            sink, fieldnames=columns, restval=0, extrasaction="ignore", lineterminator="\n"
        )
        writer.writeheader()
        writer.writerows(
            {key: spreadsheet_safe(value) for key, value in row.items()} for row in answer["perDay"]
        )
    if answer.get("asOf") is None:
        print(f"no {args.rollup} rollup has run yet: every count is zero", file=sys.stderr)
    else:
        print(
            f"wrote {len(answer['perDay'])} day(s) of {args.rollup} from {answer['since']}, "
            f"complete up to {_timestamp(answer['asOf'])}",
            file=sys.stderr,
        )
    return EXIT_OK


def export_generations(args: argparse.Namespace) -> int:
    """Write the public generation documents created on some UTC days to CSV."""
    first, last = requested_days(args)
    store = _store(args.project)
    total = store.count_created_between(first, last)
    written = 0
    with _output(args.out) as sink:
        writer = csv.writer(sink, lineterminator="\n")
        writer.writerow(("id", *EXPORTED_FIELDS))
        with _progress("exporting generations", "row", total) as advance:
            for generation_id, fields in store.created_between(first, last, EXPORTED_FIELDS):
                writer.writerow(_generation_row(generation_id, fields))
                written += 1
                advance(1)
    print(f"wrote {written} generation(s) created {first} to {last} UTC", file=sys.stderr)
    return EXIT_OK


def roles_grant(args: argparse.Namespace) -> int:
    """Grant a role to an account, keeping its other claims."""
    return _change_role(args, RoleAction.GRANT)


def roles_revoke(args: argparse.Namespace) -> int:
    """Revoke a role from an account and revoke its refresh tokens."""
    return _change_role(args, RoleAction.REVOKE)


def _change_role(args: argparse.Namespace, action: RoleAction) -> int:
    audit = _role_audit(args.project)
    role = Role(args.role)
    outcome = roles.change_role(
        audit, action, role, args.uid, by=args.by, os_user=_os_user(), now=datetime.now(UTC)
    )
    if outcome.entry_id is None:
        print(f"{args.uid} already has the {role} role: nothing changed, no audit entry written")
        return EXIT_OK
    if action is RoleAction.GRANT:
        done = f"granted the {role} role to {args.uid}"
    elif outcome.change.changes_claims:
        done = f"revoked the {role} role from {args.uid} and its refresh tokens"
    else:
        done = f"{args.uid} did not have the {role} role; its refresh tokens were revoked anyway"
    print(f"{done} (audit entry {outcome.entry_id})")
    return EXIT_OK


def roles_list(args: argparse.Namespace) -> int:
    """List one account's roles, or the role holders among the accounts."""
    _role_audit(args.project)
    if args.uid is not None:
        if args.page_token is not None:
            raise UsageError("--page-token goes with a scan of the accounts, not with --uid")
        print(json.dumps({"uid": args.uid, "roles": roles.roles_of(args.uid)}))
        return EXIT_OK
    page = roles.role_holders(args.page_token, args.max_accounts)
    for uid, held in page.holders:
        print(json.dumps({"uid": uid, "roles": held}))
    print(
        f"{len(page.holders)} role holder(s) among {page.accounts_scanned} account(s)",
        file=sys.stderr,
    )
    if page.next_page_token is not None:
        print(
            f"more accounts remain: rerun with --page-token {page.next_page_token}", file=sys.stderr
        )
    return EXIT_OK


def delete_account(args: argparse.Namespace) -> int:
    """Erase a user's data, as deleteAccountData does for an admin, to the end."""
    store = AccountDeletionStore(_client(args.project))
    if args.auth and bool(os.environ.get("FIRESTORE_EMULATOR_HOST")) != bool(
        os.environ.get("FIREBASE_AUTH_EMULATOR_HOST")
    ):
        # Otherwise the data would go from one place and the account from another.
        raise UsageError(
            "--auth needs both FIRESTORE_EMULATOR_HOST and FIREBASE_AUTH_EMULATOR_HOST, or neither"
        )
    request = DeleteAccountDataRequest.model_validate({"userId": args.uid})
    budget = deletion.Budget(max_batches=DELETE_BATCHES_PER_ROUND, max_seconds=60.0)
    with _progress(f"deleting the data of {args.uid}", "round") as advance:
        while True:
            answer = deletion.delete_account_data(
                store,
                deletion.OPERATOR,
                request,
                datetime.now(UTC),
                budget=budget,
                feed=FeedSnapshotStore(_client(args.project)),
            )
            advance(1)
            if answer["done"]:
                break
    print(json.dumps(answer, indent=2, sort_keys=True))
    if args.auth:
        accounts.ensure_app()
        if accounts.delete_account(args.uid):
            print(f"deleted the Auth account {args.uid}", file=sys.stderr)
        else:
            print(f"no Auth account {args.uid} to delete", file=sys.stderr)
    return EXIT_OK


def spreadsheet_safe(value: Any) -> Any:
    """A cell a spreadsheet shows as text: a string it would run as a formula
    (starting with = + - @, a tab or a carriage return) gets a leading quote."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _generation_row(generation_id: str, fields: dict[str, Any]) -> list[Any]:
    def cell(name: str) -> Any:
        value = fields.get(name)
        if isinstance(value, datetime):
            return _timestamp(value)
        return "" if value is None else spreadsheet_safe(value)

    return [generation_id, *(cell(name) for name in EXPORTED_FIELDS)]


# The parser.


def _add_rollup_choice(command: argparse.ArgumentParser, *, with_all: bool = True) -> None:
    choices = [*ROLLUPS_BY_NAME, ALL_ROLLUPS] if with_all else list(ROLLUPS_BY_NAME)
    command.add_argument(
        "--rollup",
        choices=choices,
        default=ALL_ROLLUPS if with_all else "generations",
        help="which rollup (default: %(default)s)",
    )


def _add_day_range(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--from",
        dest="first_day",
        type=iso_day,
        required=True,
        metavar="YYYY-MM-DD",
        help="first UTC day, included",
    )
    command.add_argument(
        "--to",
        dest="last_day",
        type=iso_day,
        required=True,
        metavar="YYYY-MM-DD",
        help=f"last UTC day, included (not in the future; at most {MAX_RANGE_DAYS} days in all)",
    )


def _add_out(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--out",
        required=True,
        metavar="FILE.csv",
        help="where to write the CSV ('-' for stdout); written whole or not at all",
    )


COMMANDS: tuple[tuple[str, Callable[[argparse.Namespace], int], str], ...] = (
    (
        "rollup",
        rollup,
        "Fold the generation events and ledger entries committed up to now minus the lag "
        "into the analytics rollups, then refresh the precomputed windows. Prints one line "
        "per rollup: events folded, batches, asOf. Exits 1 if a backfill holds a rollup.",
    ),
    (
        "backfill",
        backfill,
        "Rebuild the analytics rollups of the given UTC days from the raw documents "
        "(generations and ledgers), under a lease that keeps scheduled runs off meanwhile. "
        "Raw documents removed by cleanup are gone: rebuild only within the retention.",
    ),
    (
        "check",
        check,
        "Compare the analytics rollups of the given UTC days with a recount of the raw "
        "documents up to the rollup's asOf. Prints the differing days as JSON and exits 1 "
        "if any differ; run backfill on them to repair.",
    ),
    (
        "cleanup",
        cleanup,
        "Delete feed and history documents older than GENERATION_RETENTION_DAYS, as the "
        "daily scheduled cleanup does. Billing, ledgers, usage and rollups are kept.",
    ),
    (
        "sweep-stuck",
        sweep_stuck,
        "Fail generations still processing after PROCESSING_TIMEOUT_MINUTES and release "
        "their credits, as the scheduled sweeper does.",
    ),
    (
        "refresh-feed",
        refresh_feed,
        "Rebuild every feed snapshot (feed_snapshots) that differs from the query it stands "
        "for, as the refreshFeedSnapshots schedule does; prints the counts as JSON.",
    ),
    (
        "audit-ledgers",
        audit_ledgers,
        "Check that every account's balance and held credits equal the sum of its ledger. "
        "Prints the report as JSON and exits 1 on a mismatch.",
    ),
    (
        "export-analytics",
        export_analytics,
        "Export a precomputed analytics window as CSV, one row per UTC day: the count of "
        "each generation type and the total (generations), or the credit counters (billing).",
    ),
    (
        "export-generations",
        export_generations,
        "Export the public generation documents created on the given UTC days as CSV "
        f"({', '.join(('id', *EXPORTED_FIELDS))}). Public fields only: no email, no prompt.",
    ),
    (
        "delete-account",
        delete_account,
        "Erase a user's data, as deleteAccountData does, in bounded batches until done: "
        "their generations, usage and reports are removed; the ledger and the analytics "
        "stay without their name (see the README). Safe to rerun; prints the counts as "
        "JSON. The Auth account stays unless --auth is given.",
    ),
)


ROLE_ACTIONS: tuple[tuple[str, Callable[[argparse.Namespace], int], str], ...] = (
    (
        "grant",
        roles_grant,
        "Set the role's custom claim to true on the account, keeping its other claims, "
        "and record who did it in the append-only role_audit collection first. Granting a "
        "role the account has already changes nothing and writes no audit entry.",
    ),
    (
        "revoke",
        roles_revoke,
        "Remove the role's custom claim from the account, keeping its other claims, and "
        "revoke its refresh tokens, so its current ID tokens are refused by privileged "
        "calls at once; recorded in role_audit first. The refresh tokens are revoked even "
        "when the claim is already gone.",
    ),
    (
        "list",
        roles_list,
        "With --uid, print that account's roles as JSON. Without, read the accounts page by "
        "page (at most --max-accounts) and print one JSON line per role holder; when "
        "accounts remain, print the --page-token that resumes the scan.",
    ),
)


def _add_roles(command: argparse.ArgumentParser, project: argparse.ArgumentParser) -> None:
    actions = command.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, handler, description in ROLE_ACTIONS:
        summary = (handler.__doc__ or "").strip()
        action = actions.add_parser(name, help=summary, description=description, parents=[project])
        action.set_defaults(handler=handler, command_parser=action)
        if name == "list":
            action.add_argument("--uid", type=account_uid, help="the account (Auth uid)")
            action.add_argument(
                "--max-accounts",
                type=bounded_int(1, MAX_ROLE_SCAN),
                default=DEFAULT_ROLE_SCAN,
                metavar="N",
                help="without --uid: accounts read in this run (default: %(default)s)",
            )
            action.add_argument(
                "--page-token", metavar="TOKEN", help="resume a scan where the last one stopped"
            )
            continue
        action.add_argument("--uid", type=account_uid, required=True, help="the account (Auth uid)")
        action.add_argument(
            "--role", choices=[role.value for role in Role], required=True, help="the role"
        )
        action.add_argument(
            "--by",
            type=operator_name,
            required=True,
            metavar="OPERATOR",
            help="who is making the change (your account or handle), recorded in the audit",
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m generations_live",
        description="Generations Live operator commands, against the Firestore emulator "
        "(FIRESTORE_EMULATOR_HOST) or a real project (application default credentials).",
    )
    parser.add_argument("--project", help="Firebase project id (default: GCLOUD_PROJECT)")
    # Also accepted after the command; SUPPRESS keeps it from overriding the one before.
    project = argparse.ArgumentParser(add_help=False)
    project.add_argument("--project", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    added: dict[str, argparse.ArgumentParser] = {}
    for name, handler, description in COMMANDS:
        summary = (handler.__doc__ or "").strip()
        command = commands.add_parser(
            name, help=summary, description=description, parents=[project]
        )
        command.set_defaults(handler=handler, command_parser=command)
        added[name] = command

    added["rollup"].add_argument(
        "--lag",
        type=bounded_int(0, MAX_LAG_SECONDS),
        metavar="SECONDS",
        help="stay this far behind now, to absorb clock skew (default: ROLLUP_LAG_SECONDS)",
    )
    _add_rollup_choice(added["rollup"])
    for name in ("backfill", "check"):
        _add_day_range(added[name])
        _add_rollup_choice(added[name])
    added["cleanup"].add_argument(
        "--batch-size",
        type=bounded_int(1, MAX_CLEANUP_BATCH),
        default=200,
        metavar="N",
        help="generations deleted per batch (default: %(default)s)",
    )
    added["cleanup"].add_argument(
        "--max-batches",
        type=bounded_int(1, 100_000),
        default=100,
        metavar="N",
        help="stop after this many batches; a rerun goes on (default: %(default)s)",
    )
    added["export-analytics"].add_argument(
        "--days",
        type=bounded_int(1, MAX_WINDOW_DAYS),
        required=True,
        metavar="N",
        help=f"the window: N UTC days ending on the rollup's day (1 to {MAX_WINDOW_DAYS})",
    )
    _add_out(added["export-analytics"])
    _add_rollup_choice(added["export-analytics"], with_all=False)
    _add_day_range(added["export-generations"])
    _add_out(added["export-generations"])
    added["delete-account"].add_argument(
        "--uid", type=deleted_uid, required=True, help="the user's uid (Firebase Auth)"
    )
    added["delete-account"].add_argument(
        "--auth",
        action="store_true",
        help="also delete the Firebase Auth account (FIREBASE_AUTH_EMULATOR_HOST with the "
        "emulators)",
    )
    roles_command = commands.add_parser(
        "roles",
        help="Grant, revoke or list the worker and admin roles (audited).",
        description="Grant, revoke or list the worker and admin roles: custom claims on "
        "Firebase Auth accounts, each change recorded in the append-only role_audit "
        "collection. Needs Firebase Auth as well as Firestore (FIREBASE_AUTH_EMULATOR_HOST "
        "with the emulators).",
        parents=[project],
    )
    roles_command.set_defaults(command_parser=roles_command)
    _add_roles(roles_command, project)
    add_webhook_commands(commands, project, _client)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns its exit code (argparse exits 2 itself on bad usage)."""
    args = build_parser().parse_args(argv)
    try:
        exit_code: int = args.handler(args)
    except UsageError as bad:
        command: argparse.ArgumentParser = args.command_parser
        command.error(str(bad))  # exits 2, like argparse's own checks
    except (CommandFailed, DomainError) as failed:
        print(f"error: {failed}", file=sys.stderr)
        return EXIT_FAILED
    except google_exceptions.GoogleAPICallError as refused:
        print(f"error: Firestore refused the request: {refused.message}", file=sys.stderr)
        return EXIT_FAILED
    except firebase_exceptions.FirebaseError as refused:
        print(f"error: Firebase Auth refused the request: {refused}", file=sys.stderr)
        return EXIT_FAILED
    except auth_exceptions.DefaultCredentialsError as no_credentials:
        print(f"error: no Google credentials: {no_credentials}", file=sys.stderr)
        return EXIT_FAILED
    return exit_code
