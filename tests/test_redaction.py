"""`--redact`: no subscription, tenant or principal id and no secret reaches any output or the snapshot, and
what is left still reads (the same id masks to the same token everywhere)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from armbed import broken
from armbed.scenarios import Deployment, Endpoint
from moe import moediag, target_args
from moediag.redact import GUID_MASK_PREFIX, Redactor

GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
SAS_SIG = "Zm9vYmFyc2VjcmV0JTNE"
JWT = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0aWQiOiJhYWFhIn0.c2lnbmF0dXJlc2lnbmF0dXJl"
ACCOUNT_KEY = "c2VjcmV0a2V5MTIzNDU2Nzg5MA=="


def leaky_log(token: str) -> str:
    """An inference server log of a failed deployment that prints what it should not."""
    return "\n".join([
        "2024-02-12 09:31:38,902 I [1] gunicorn.error - Starting gunicorn 22.0.0",
        f"2024-02-12 09:31:39,001 I [42] azmlinfsrv - fetching https://stwsprod.blob.core.windows.net/m/model.pkl?sv=2022-11-02&sig={SAS_SIG}",
        f"2024-02-12 09:31:39,002 I [42] azmlinfsrv - calling with Authorization: Bearer {JWT}",
        f"2024-02-12 09:31:39,003 I [42] azmlinfsrv - DefaultEndpointsProtocol=https;AccountName=stwsprod;AccountKey={ACCOUNT_KEY};EndpointSuffix=core.windows.net",
        f"2024-02-12 09:31:39,004 I [42] azmlinfsrv - env MOEDIAG_ACCESS_TOKEN is {token}",
        "2024-02-12 09:31:40,332 E [1] gunicorn.error - Shutting down: Master",
    ]) + "\n"


def leaky(token: str):
    logs = {"InferenceServer": leaky_log(token), "StorageInitializer": ""}
    return broken(endpoints=[Endpoint("ep-main", traffic={"blue": 100},
                                      deployments=[Deployment("blue", provisioning_state="Failed", logs=logs)])])


def run_everything(bed, dns_server, tmp_path: Path, *extra: str) -> dict[str, str]:
    """One run writing every format and a snapshot; returns each output's text by name."""
    scenario = leaky(bed.token).install(bed)
    dns_server.set_records(scenario.dns_records())
    tmp_path.mkdir(exist_ok=True)
    out = {name: tmp_path / name for name in ("report.json", "report.xml", "report.md", "snapshot.json")}
    run = moediag(bed, "check", *target_args(scenario), "--dns-server", dns_server.address, "--logs",
                  "-o", "table", "-o", f"json={out['report.json']}", "-o", f"junit={out['report.xml']}",
                  "-o", f"markdown={out['report.md']}", "--save-snapshot", str(out["snapshot.json"]), *extra)
    assert run.code in (1, 3), run.stderr
    return {"table": run.stdout, "stderr": run.stderr, **{name: path.read_text() for name, path in out.items()}}


def secrets_of(scenario, token: str) -> list[str]:
    return [scenario.subscription_id, scenario.tenant_id, scenario.workspace_id, token, SAS_SIG, JWT, ACCOUNT_KEY,
            "6b2f6c1e-3d4a-4b5c-9d8e-7f6a5b4c3d2e"]  # the workspace identity's principal id


def test_with_redact_no_id_or_secret_of_the_scenario_appears_in_any_output_or_the_snapshot(bed, dns_server, tmp_path):
    plain = run_everything(bed, dns_server, tmp_path / "plain")
    scenario = leaky(bed.token)
    sensitive = secrets_of(scenario, bed.token)
    everything = "\n".join(plain.values()).lower()
    ids, secrets = sensitive[:3], [bed.token, SAS_SIG, JWT, ACCOUNT_KEY]
    assert [s for s in ids if s.lower() not in everything] == []  # without --redact the ids are there to read
    assert [s for s in secrets if s.lower() in everything] == []  # secrets never, --redact or not

    redacted = run_everything(bed, dns_server, tmp_path / "redacted", "--redact")
    for name, text in redacted.items():
        assert [s for s in sensitive if s.lower() in text.lower()] == [], name
        assert [g for g in GUID.findall(text) if not g.startswith(GUID_MASK_PREFIX)] == [], name  # no GUID at all


def test_a_redacted_report_still_reads_the_same_id_is_the_same_token_everywhere(bed, dns_server, tmp_path):
    out = run_everything(bed, dns_server, tmp_path, "--redact")
    report, snapshot = json.loads(out["report.json"]), json.loads(out["snapshot.json"])
    masked_sub = report["target"]["subscription_id"]
    assert masked_sub.startswith(GUID_MASK_PREFIX) and snapshot["target"]["subscription_id"] == masked_sub
    kv = next(r for r in report["results"] if r["check_id"] == "keyvault.trusted-services-bypass")
    assert kv["resource_id"] == f"/subscriptions/{masked_sub}/resourceGroups/rg-ml/providers/Microsoft.KeyVault/vaults/kv-ws-prod"
    assert kv["fix"]["commands"] == ["az keyvault update -n kv-ws-prod -g rg-ml --bypass AzureServices"]
    assert "ws-prod" in out["report.md"] and masked_sub in out["report.md"] and masked_sub in out["table"]


def test_a_redacted_snapshot_replays_to_the_redacted_verdicts(bed, dns_server, tmp_path):
    out = run_everything(bed, dns_server, tmp_path, "--redact")
    bed.stop()
    replay = moediag(None, "check", "--snapshot", str(tmp_path / "snapshot.json"), "-o", "json")
    live = json.loads(out["report.json"])

    def verdicts(report):
        return [(r["check_id"], r["status"], r["resource_id"]) for r in report["results"]]

    assert verdicts(replay.report) == verdicts(live)


def test_suppressions_match_the_real_ids_before_they_are_masked(bed, dns_server, tmp_path):
    scenario = leaky(bed.token)
    (tmp_path / "moediag.toml").write_text(
        f'[[suppress]]\ncheck = "keyvault.trusted-services-bypass"\nresource = "{scenario.key_vault_id}"\nreason = "SEC-1"\n')
    scenario.install(bed)
    run = moediag(bed, "check", *target_args(scenario), "--select", "keyvault", "--redact", "-o", "json", cwd=tmp_path)
    [kv] = run.results("keyvault.trusted-services-bypass")
    assert kv["status"] == "skip" and scenario.subscription_id not in run.stdout


def test_render_redact_masks_a_report_saved_without_it(tmp_path):
    example = Path(__file__).resolve().parent.parent / "examples" / "broken-workspace.snapshot.json"
    saved = tmp_path / "report.json"
    moediag(None, "check", "--snapshot", str(example), "-o", f"json={saved}")
    sub = json.loads(saved.read_text())["target"]["subscription_id"]
    assert sub in saved.read_text()
    run = moediag(None, "render", str(saved), "--redact", "-o", "markdown")
    assert run.code == 0 and sub not in run.stdout and GUID_MASK_PREFIX in run.stdout


def test_masks_are_deterministic_case_insensitive_idempotent_and_still_guids():
    redact = Redactor(["literal-secret-value"])
    sub = "00000000-1111-2222-3333-444444444444"
    once = redact.text(f"/subscriptions/{sub}/x and /SUBSCRIPTIONS/{sub.upper()}/y")
    masks = GUID.findall(once)
    assert len(set(masks)) == 1 and masks[0].startswith(GUID_MASK_PREFIX) and sub not in once
    assert redact.text(once) == once and Redactor().text(sub) == masks[0]
    assert redact.text("x literal-secret-value y").startswith("x [redacted:")


def test_secret_looking_values_are_masked_where_they_appear():
    redact = Redactor()
    data = {
        "url": "https://st.blob.core.windows.net/c/b?sv=2022-11-02&sig=abc%2Bdef%3D&sp=r",
        "conn": "AccountName=st;AccountKey=AbCd1234+/==;EndpointSuffix=core.windows.net",
        "header": "Authorization: Bearer abcdefghijklmnopqrstuvwxyz",
        "jwt": "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig_nature",
        "primaryKey": "plainlookingvalue",
        "createdBy": "alice@contoso.com",
        "name": "kv-ws-prod",
    }
    masked = redact(data)
    for secret in ("abc%2Bdef%3D", "AbCd1234+/==", "abcdefghijklmnopqrstuvwxyz", "eyJhbGciOiJIUzI1NiJ9",
                   "plainlookingvalue", "alice@contoso.com"):
        assert secret not in json.dumps(masked)
    assert masked["name"] == "kv-ws-prod" and "sp=r" in masked["url"] and "AccountName=st" in masked["conn"]
    assert masked["createdBy"].endswith("@redacted.invalid")
