"""The Cloud Storage files beside firebase.json: the bucket's lifecycle keeps
outputs as long as the generation documents, and the rules admit no client."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from generations_live.adapters.config import GENERATION_RETENTION_DAYS
from generations_live.domain.outputs import OUTPUTS_PREFIX

ROOT = Path(__file__).resolve().parents[2]


def lifecycle_rules() -> list[dict[str, Any]]:
    config = json.loads((ROOT / "storage.lifecycle.json").read_text(encoding="utf-8"))
    rules: list[dict[str, Any]] = config["lifecycle"]["rule"]
    return rules


def test_outputs_are_deleted_when_their_generations_are() -> None:
    deletes = [rule for rule in lifecycle_rules() if rule["action"] == {"type": "Delete"}]
    assert deletes == [
        {
            "action": {"type": "Delete"},
            "condition": {
                "age": GENERATION_RETENTION_DAYS.default,
                "matchesPrefix": [OUTPUTS_PREFIX],
            },
        }
    ]
    assert (GENERATION_RETENTION_DAYS.default, OUTPUTS_PREFIX) == (30, "generations/")


def test_incomplete_uploads_are_aborted_after_a_day() -> None:
    aborts = [
        rule
        for rule in lifecycle_rules()
        if rule["action"] == {"type": "AbortIncompleteMultipartUpload"}
    ]
    assert aborts == [
        {"action": {"type": "AbortIncompleteMultipartUpload"}, "condition": {"age": 1}}
    ]


def test_the_lifecycle_has_no_other_rule() -> None:
    assert sorted(rule["action"]["type"] for rule in lifecycle_rules()) == [
        "AbortIncompleteMultipartUpload",
        "Delete",
    ]


def test_the_storage_rules_deny_every_client() -> None:
    rules = (ROOT / "storage.rules").read_text(encoding="utf-8")
    assert re.search(r"^rules_version = '2';$", rules, re.MULTILINE)
    assert "match /b/{bucket}/o" in rules
    assert "match /{allPaths=**}" in rules
    assert re.findall(r"\ballow\b[^;]*;", rules) == ["allow read, write: if false;"]


def test_firebase_json_deploys_the_storage_rules() -> None:
    config = json.loads((ROOT / "firebase.json").read_text(encoding="utf-8"))
    assert config["storage"] == {"rules": "storage.rules"}
    assert (ROOT / config["storage"]["rules"]).is_file()
