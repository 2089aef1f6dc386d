"""The log-pattern table: which lines of a deployment's container logs explain a failure, and the fix for each."""

from __future__ import annotations

import pytest

from armbed.scenarios import HEALTHY_INFERENCE_LOG, HEALTHY_STORAGE_INIT_LOG, IMPORT_ERROR_INFERENCE_LOG
from moediag.logpatterns import MAX_LINES, PATTERNS, last_lines, scan

NAMES = {"endpoint": "ep-main", "deployment": "blue", "resource_group": "rg-ml", "workspace": "ws-prod",
         "principal_id": "0d7e6f5a-4b3c-4d2e-8f1a-9b8c7d6e5f4a",
         "storage_id": "/subscriptions/s/resourceGroups/rg-ml/providers/Microsoft.Storage/storageAccounts/stwsprod",
         "registry_id": "/subscriptions/s/resourceGroups/rg-ml/providers/Microsoft.ContainerRegistry/registries/acrwsprod"}

# One real-looking line per failure the runbook meets, and the pattern that must explain it.
LINES = [
    ("ModuleNotFoundError: No module named 'lightgbm'", "python-import"),
    ("ImportError: cannot import name 'joblib' from 'sklearn.externals'", "python-import"),
    ("FileNotFoundError: [Errno 2] No such file or directory: '/var/azureml-app/azureml-models/churn/1/model.pkl'",
     "model-file-missing"),
    ("2024-02-12T09:18:41.902Z | ERROR | Download failed: AuthorizationPermissionMismatch: This request is not "
     "authorized to perform this operation using this permission.", "storage-permission"),
    ("azure.core.exceptions.HttpResponseError: This request is not authorized to perform this operation. "
     "ErrorCode:AuthorizationFailure", "storage-network"),
    ("Error response from daemon: Head \"https://acrwsprod.azurecr.io/v2/azureml/azureml_abc/manifests/latest\": "
     "unauthorized: authentication required", "registry-unauthorized"),
    ("Error response from daemon: manifest for acrwsprod.azurecr.io/azureml/azureml_abc:latest not found: "
     "manifest unknown: manifest tagged by \"latest\" is not found", "registry-manifest-unknown"),
    ("requests.exceptions.ConnectionError: HTTPSConnectionPool(host='pypi.org', port=443): Max retries exceeded "
     "with url: /simple/lightgbm/ (Caused by NameResolutionError(\"Failed to resolve 'pypi.org' ([Errno -3] "
     "Temporary failure in name resolution)\"))", "name-resolution"),
    ("socket.gaierror: [Errno -2] Name or service not known", "name-resolution"),
    ("2024-02-12 09:40:01,000 E [1] gunicorn.error - Worker (pid:42) was sent SIGKILL! Perhaps out of memory?",
     "out-of-memory"),
    ("Killed", "out-of-memory"),
    ("Container inference-server was OOMKilled", "out-of-memory"),
    ("Liveness probe failed: Get \"http://10.0.0.5:31311/\": context deadline exceeded", "probe-failure"),
    ("Readiness probe failed: HTTP probe failed with statuscode: 502", "probe-failure"),
    ("ValueError: could not convert string to float: 'abc'", "python-traceback"),
    ("Error response from daemon: Get \"https://acrwsprod.azurecr.io/v2/\": denied: client with IP '20.81.4.7' is "
     "not allowed access. Refer https://aka.ms/acr/firewall to grant access.", "registry-firewall"),
    ("Failed to pull image: ImagePullFailed: the image azureml/azureml_abc could not be pulled", "image-pull"),
    ("UserContainerImagePull: Failed", "image-pull"),
    ("ERROR: Could not find a version that satisfies the requirement lightgbm==4.3.0 (from versions: none)",
     "package-index-unreachable"),
    ("ERROR: No matching distribution found for lightgbm==4.3.0", "package-index-unreachable"),
    ("WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) after connection broken "
     "by 'ConnectTimeoutError(<pip._vendor.urllib3.connection.HTTPSConnection object at 0x7f3c2a1b>, 'Connection to "
     "pypi.org timed out. (connect timeout=15)')': /simple/lightgbm/", "package-index-unreachable"),
    ("CondaHTTPError: HTTP 000 CONNECTION FAILED for url <https://conda.anaconda.org/conda-forge/linux-64/"
     "current_repodata.json>", "package-index-unreachable"),
    ("WARNING: Retrying (Retry(total=3, connect=None, read=None, redirect=None, status=None)) after connection broken "
     "by 'NewConnectionError('<pip._vendor.urllib3.connection.HTTPSConnection object at 0x7f3c2a1b>: Failed to "
     "establish a new connection: [Errno 101] Network is unreachable')': /simple/lightgbm/", "package-index-unreachable"),
    ("2024-02-12T09:18:41.902Z | ERROR | Failed to download model azureml://models/churn-model/versions/1",
     "model-download"),
    ("2024-02-12T09:18:41.950Z | ERROR | Error downloading blob azureml/ExperimentRun/dcid.x/outputs/model.pkl",
     "model-download"),
    ("2024-02-12T09:18:43.001Z | ERROR | AzureMLException: Message: model churn-model:1 could not be fetched from "
     "the workspace storage", "model-download"),
]


@pytest.mark.parametrize("line, pattern", LINES)
def test_each_known_failure_line_is_explained_by_its_pattern(line, pattern):
    [finding] = scan(f"2024-02-12 INFO starting\n{line}\n2024-02-12 INFO exiting\n", "InferenceServer")
    assert finding.pattern.id == pattern
    assert finding.lines == [line.strip()]
    assert finding.explanation(NAMES)


def test_every_pattern_has_a_fix_and_is_exercised_by_a_line_above():
    assert {p.id for p in PATTERNS} == {pattern for _, pattern in LINES}
    assert all(p.fix and p.explanation for p in PATTERNS)


@pytest.mark.parametrize("log", [HEALTHY_INFERENCE_LOG, HEALTHY_STORAGE_INIT_LOG, "", None])
def test_healthy_or_empty_logs_match_nothing(log):
    assert scan(log, "InferenceServer") == []


def test_an_import_error_names_the_module_and_hides_the_generic_traceback():
    [finding] = scan(IMPORT_ERROR_INFERENCE_LOG, "InferenceServer")
    assert finding.pattern.id == "python-import"  # the traceback fallback is not reported beside it
    assert finding.groups["module"] == "lightgbm"
    assert "imports lightgbm" in finding.explanation(NAMES)
    assert finding.fix(NAMES).startswith("Add lightgbm to the environment")
    assert "az ml online-deployment update -e ep-main -n blue -g rg-ml -w ws-prod -f <deployment.yml>" in finding.commands(NAMES)


def test_a_traceback_without_a_known_cause_is_reported_as_the_fallback():
    log = "Traceback (most recent call last):\n  File \"score.py\", line 9, in init\nKeyError: 'MODEL_NAME'\n"
    [finding] = scan(log)
    assert finding.pattern.id == "python-traceback" and finding.count == 2


def test_fix_commands_carry_the_real_names_and_placeholders_only_for_unknown_ones():
    [storage] = scan("AuthorizationPermissionMismatch", "StorageInitializer")
    assert storage.commands(NAMES) == [
        'az role assignment create --assignee-object-id 0d7e6f5a-4b3c-4d2e-8f1a-9b8c7d6e5f4a --assignee-principal-type '
        f'ServicePrincipal --role "Storage Blob Data Reader" --scope {NAMES["storage_id"]}']
    assert "--assignee-object-id <principal_id>" in storage.commands({"endpoint": "ep-main"})[0]


def test_a_host_that_did_not_resolve_becomes_an_outbound_rule_for_that_host():
    [finding] = scan("urllib3.exceptions.NameResolutionError: Failed to resolve 'files.pythonhosted.org' "
                     "([Errno -3] Temporary failure in name resolution)")
    assert finding.commands(NAMES)[0] == ("az ml workspace outbound-rule set -g rg-ml -w ws-prod --rule "
                                          "allow-files-pythonhosted-org --type fqdn --destination files.pythonhosted.org")
    assert "could not resolve files.pythonhosted.org" in finding.explanation(NAMES)


def test_an_unnamed_host_is_worded_in_prose_but_stays_a_placeholder_in_commands():
    [finding] = scan("socket.gaierror: [Errno -3] Temporary failure in name resolution")
    assert "could not resolve a host name it needs" in finding.explanation(NAMES)
    assert "--destination <host>" in finding.commands(NAMES)[0]


def test_repeated_lines_are_counted_once_and_kept_short():
    log = "\n".join(["Liveness probe failed: timeout"] * 40 + [f"Readiness probe failed: try {i}" for i in range(9)])
    [finding] = scan(log)
    assert finding.count == 49
    assert len(finding.lines) == MAX_LINES and finding.lines[0] == "Liveness probe failed: timeout"


def test_findings_follow_the_table_order_and_keep_their_container():
    log = "Liveness probe failed: timeout\nModuleNotFoundError: No module named 'torch'\n"
    findings = scan(log, "InferenceServer")
    assert [f.pattern.id for f in findings] == ["python-import", "probe-failure"]
    assert findings[0].to_json(NAMES)["container"] == "InferenceServer"


def test_last_lines_skips_blank_lines():
    assert last_lines("a\n\nb\n  \nc\n", 2) == ["b", "c"]


def test_a_registry_firewall_refusal_points_at_the_network_path_never_at_acrpull():
    [finding] = scan("Error response from daemon: denied: client with IP '20.81.4.7' is not allowed access.\n"
                     "ImagePullFailed: UserContainerImagePull: Failed")
    assert finding.pattern.id == "registry-firewall"
    assert not any("AcrPull" in c for c in finding.commands(NAMES))
    assert "not a missing AcrPull role" in finding.explanation(NAMES)


def test_a_plain_image_pull_failure_is_recognised_when_nothing_more_specific_is():
    [finding] = scan("2024-02-12 ImagePullFailed: image could not be pulled")
    assert finding.pattern.id == "image-pull" and finding.pattern.fallback


def test_an_unreachable_package_index_becomes_an_fqdn_outbound_rule_for_the_host_the_log_names():
    [finding] = scan("WARNING: Retrying (Retry(total=4)) after connection broken by 'ConnectTimeoutError(<x>, "
                     "'Connection to pypi.org timed out. (connect timeout=15)')': /simple/lightgbm/\n"
                     "ERROR: Could not find a version that satisfies the requirement lightgbm (from versions: none)\n")
    assert finding.pattern.id == "package-index-unreachable" and finding.count == 2
    assert finding.groups["host"] == "pypi.org"
    assert finding.commands(NAMES) == [
        "az ml workspace outbound-rule set -g rg-ml -w ws-prod --rule allow-pypi-org --type fqdn --destination pypi.org",
        "az ml workspace provision-network -g rg-ml -n ws-prod"]
    assert "private feed" in finding.fix(NAMES)


def test_a_package_index_host_that_is_not_an_fqdn_never_reaches_a_command():
    [finding] = scan("CondaHTTPError: HTTP 000 CONNECTION FAILED for url <https://conda.anaconda.org;rm -rf ~/x>")
    assert finding.groups["host"] == "conda.anaconda.org"  # the name stops where a host name stops
    [hostile] = scan("after connection broken by x host='pypi.org$(id)' Failed to establish a new connection: "
                     "/simple/x/")
    assert hostile.groups["host"] == "pypi.org$(id)"
    assert not any("--destination" in c for c in hostile.commands(NAMES))
    assert hostile.commands(NAMES) == ["az ml workspace provision-network -g rg-ml -n ws-prod"]


def test_an_unnamed_package_index_is_worded_in_prose_and_a_placeholder_in_commands():
    [finding] = scan("ERROR: Could not find a version that satisfies the requirement torch (from versions: none)")
    assert "could not reach the package index (pypi.org" in finding.explanation(NAMES)
    assert "--destination <host>" in finding.commands(NAMES)[0]


def test_a_model_download_failure_names_the_storage_path_and_yields_to_a_specific_storage_refusal():
    [finding] = scan("Failed to download model azureml://models/churn-model/versions/1", "StorageInitializer")
    assert finding.pattern.id == "model-download" and finding.pattern.fallback
    assert f"--scope {NAMES['storage_id']}" in finding.commands(NAMES)[1]
    [specific] = scan("Failed to download model churn-model:1\nAuthorizationPermissionMismatch", "StorageInitializer")
    assert specific.pattern.id == "storage-permission"


def test_out_of_memory_kills_are_already_covered():
    for line in ("Container inference-server was OOMKilled", "process exited with code 137"):
        assert [f.pattern.id for f in scan(line)] == ["out-of-memory"]
