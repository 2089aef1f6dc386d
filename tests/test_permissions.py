"""Least privilege: the actions each check needs come from its facts, and every output agrees."""

from __future__ import annotations

import json
from pathlib import Path

from moe import moediag
from moediag.facts import FACTS, load_all
from moediag.permissions import actions_for, render_permissions_doc
from moediag.registry import all_checks

DOC = Path(__file__).resolve().parent.parent / "docs" / "permissions.md"


def test_every_fact_read_from_azure_declares_its_actions():
    load_all()
    for spec in FACTS.values():
        if spec.derived or spec.name.startswith(("dns", "test_")):
            continue
        assert spec.permissions, f"fact {spec.name} declares no Azure action"


def test_the_permissions_command_lists_the_union_of_the_checks_actions():
    out = moediag(None, "permissions").stdout.splitlines()
    assert [line.split()[0] for line in out] == actions_for(all_checks().values())


def test_the_role_definition_is_ready_for_az_and_matches_the_metadata():
    role = json.loads(moediag(None, "permissions", "-o", "role", "-s", "00000000-1111-2222-3333-444444444444").stdout)
    assert role["IsCustom"] is True and role["AssignableScopes"] == ["/subscriptions/00000000-1111-2222-3333-444444444444"]
    assert role["Actions"] == actions_for(all_checks().values())
    assert not any(a.endswith(("/write", "/delete")) for a in role["Actions"])


def test_selecting_checks_narrows_the_actions():
    out = moediag(None, "permissions", "--select", "keyvault").stdout
    assert "Microsoft.KeyVault/vaults/read" in out and "onlineEndpoints" not in out


def test_docs_permissions_page_matches_the_metadata():
    assert DOC.read_text(encoding="utf-8") == render_permissions_doc(all_checks().values()), \
        "docs/permissions.md is stale: run python -m moediag.docs docs/checks"
