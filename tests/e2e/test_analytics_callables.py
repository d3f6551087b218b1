"""Analytics through the deployed functions: the operator command folds the
events, the callables answer from the rollups."""

from __future__ import annotations

import pytest

from harness.clients import AppUser, AuthEmulator, CallableClient, CallableError
from harness.emulators import EmulatorSuite, run_operator_command


def test_dashboard_numbers_follow_the_rollup(
    api: CallableClient, auth: AuthEmulator, worker: AppUser, admin: AppUser, suite: EmulatorSuite
) -> None:
    # The top users are the ten busiest of the week: start from an empty database,
    # so the creators of other tests' load runs do not crowd this one out.
    suite.wipe_firestore()
    creator = auth.create_user(display_name="Analytics Creator")
    started = [
        api.call("trackGeneration", {"type": kind, "prompt": "x"}, id_token=creator.id_token)
        for kind in ("image", "image", "audio")
    ]
    api.call(
        "updateGenerationStatus",
        {"generationId": started[0]["generationId"], "status": "completed", "durationMs": 4200},
        id_token=worker.id_token,
    )
    rolled = run_operator_command(suite, "rollup", "--lag", "0")
    assert rolled.returncode == 0, rolled.stderr
    week = api.call("getGenerationAnalytics", {"days": 7}, id_token=creator.id_token)
    assert week["asOf"] is not None
    assert week["days"] == 7
    assert len(week["perDay"]) == 7
    mine = [user for user in week["topUsers"] if user["userId"] == creator.uid]
    assert mine == [{"userId": creator.uid, "userName": "Analytics Creator", "count": 3}]
    assert week["byType"]["image"] >= 2
    assert week["durations"]["image"]["count"] >= 1
    assert "@" not in repr(week)
    economy = api.call("getBillingAnalytics", {"days": 1}, id_token=admin.id_token)
    assert economy["totals"]["charged"] >= 5
    assert economy["totals"]["dailyFree"] >= 10
    assert {"userId": creator.uid, "credits": 5} in economy["topSpenders"] or len(
        economy["topSpenders"]
    ) == 10


def test_billing_analytics_are_for_admins(api: CallableClient, user: AppUser) -> None:
    with pytest.raises(CallableError) as refused:
        api.call("getBillingAnalytics", {"days": 7}, id_token=user.id_token)
    assert refused.value.code == "permission-denied"
