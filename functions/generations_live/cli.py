"""The operator command line: ``python -m generations_live COMMAND``.

Works against the emulator (``FIRESTORE_EMULATOR_HOST`` set) or a real project
(application default credentials). Every command validates its arguments and
exits non-zero with a message on bad input or on a failed check.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from generations_live import billing, tracking
from generations_live.config import settings
from generations_live.store import GenerationStore, default_client

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2


def _store(project: str | None) -> GenerationStore:
    if project:
        os.environ["GCLOUD_PROJECT"] = project
    if not (os.environ.get("GCLOUD_PROJECT") or os.environ.get("GOOGLE_CLOUD_PROJECT")):
        raise SystemExit("set --project or GCLOUD_PROJECT (the Firebase project id)")
    return GenerationStore(default_client())


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m generations_live", description="Generations Live operator commands."
    )
    parser.add_argument("--project", help="Firebase project id (default: GCLOUD_PROJECT)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, handler in (("audit-ledgers", audit_ledgers), ("sweep-stuck", sweep_stuck)):
        command = commands.add_parser(name, help=handler.__doc__, description=handler.__doc__)
        command.set_defaults(handler=handler)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    exit_code: int = args.handler(args)
    return exit_code
