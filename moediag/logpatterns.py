"""Known failure lines in online deployment container logs: what each means, and its fix.

`scan(text, container)` finds the lines of a log tail that explain a failure, grouped by pattern, in table
order (the most specific first). A pattern's explanation and fix commands are templates: `{name}` is filled
from the names a check knows (endpoint, deployment, resource_group, workspace, principal_id, storage_id,
registry_id) and from the names read from the matching lines (`extract`); a name nobody knows is shown as
`<name>`, never invented. Commands are built by `moediag.shell.command` (every value quoted), and a name read
from a log goes into a command only when it is valid for what it names (`VALID`: a host name must be an FQDN, a
module a dotted Python name); otherwise the commands that need it are left out and the prose still says what to
do (naming the value as the log wrote it: renderers show it inert).
Pure text in, data out: no I/O, unit-tested in tests/test_logpatterns.py.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field

from moediag.shell import Command, Placeholder, command, is_fqdn, is_python_module

MAX_LINES = 5  # distinct matching lines kept per finding: enough to read, short enough for a report
MAX_LINE_CHARS = 500
# What a name read from a log line must be to go into a command.
VALID = {"host": is_fqdn, "module": is_python_module}

@dataclass(frozen=True)
class Pattern:
    id: str
    regex: re.Pattern
    title: str
    explanation: str
    fix: str
    commands: tuple[str, ...] = ()
    fallback: bool = False  # only reported when no specific pattern matched the same log
    wording: tuple[tuple[str, str], ...] = ()  # words for names the log did not give, in prose only (never in commands)
    extract: tuple[tuple[str, re.Pattern], ...] = ()  # names read from a matching line (first group that matched)


def _p(id: str, regexes: list[str], title: str, explanation: str, fix: str, commands: tuple[str, ...] = (),
       fallback: bool = False, wording: dict[str, str] | None = None, extract: dict[str, str] | None = None) -> Pattern:
    return Pattern(id, re.compile("|".join(f"(?:{r})" for r in regexes), re.IGNORECASE), title, explanation, fix,
                   commands, fallback, tuple((wording or {}).items()),
                   tuple((name, re.compile(r)) for name, r in (extract or {}).items()))


UPDATE_DEPLOYMENT = "az ml online-deployment update -e {endpoint} -n {deployment} -g {resource_group} -w {workspace} -f <deployment.yml>"

PATTERNS: tuple[Pattern, ...] = (
    _p("python-import",
       [r"ModuleNotFoundError: .+", r"ImportError: .+"],
       "a Python import failed",
       "the scoring script (or a package it loads) imports {module}, which the environment does not have: "
       "init() never runs and the inference server exits",
       "Add {module} to the environment (conda file or image), register a new environment version, then update "
       "the deployment to use it; try it locally first with --local",
       (UPDATE_DEPLOYMENT,
        "az ml online-deployment create -e {endpoint} -n {deployment} -f <deployment.yml> --local"),
       wording={"module": "a module"}, extract={"module": r"No module named '([^']+)'"}),
    _p("model-file-missing",
       [r"(?:FileNotFoundError|OSError|IOError).*No such file or directory.*",
        r"No such file or directory: '[^']*azureml-models[^']*'",
        r"(?:model|AZUREML_MODEL_DIR)[^\n]*(?:not found|does not exist)"],
       "a file init() opens was not found (usually the model)",
       "init() opens a path that is not where the model was mounted: model files sit under "
       "AZUREML_MODEL_DIR, in the folder structure the model was registered with",
       "Build the path from os.environ['AZUREML_MODEL_DIR'] and the registered folder layout, or register the "
       "model with the files init() expects, then update the deployment",
       (UPDATE_DEPLOYMENT,)),
    _p("storage-permission",
       [r"AuthorizationPermissionMismatch",
        r"This request is not authorized to perform this operation using this permission"],
       "storage refused the endpoint's identity (role missing)",
       "the endpoint's identity reached the storage account but has no data role on it, so the model and code "
       "cannot be downloaded",
       "Grant the endpoint's identity Storage Blob Data Reader on the workspace storage account, then update "
       "the deployment",
       ('az role assignment create --assignee-object-id {principal_id} --assignee-principal-type ServicePrincipal '
        '--role "Storage Blob Data Reader" --scope {storage_id}',)),
    _p("storage-network",
       [r"AuthorizationFailure", r"This request is not authorized to perform this operation\.?(?! using)"],
       "storage refused the request from this network",
       "the storage account's firewall denied the download: the deployment's outbound path (managed VNet "
       "private endpoint or the legacy per-deployment network) does not reach the account privately",
       "Give the deployment a private path to the storage account: with a workspace managed VNet make sure its "
       "storage outbound rule is Active (provision the network); otherwise allow the deployment's network on "
       "the account",
       ("az ml workspace provision-network -g {resource_group} -n {workspace}",
        "az ml workspace outbound-rule list -g {resource_group} -w {workspace}")),
    _p("registry-firewall",
       [r"denied: client with IP '?[0-9a-fA-F.:]+'? is not allowed access[^\n]*",
        r"client with IP '?[0-9a-fA-F.:]+'? is not allowed access"],
       "the registry's firewall refused the pull",
       "the container registry's firewall refused the image pull from a public IP: the deployment reached the "
       "registry over its public endpoint, which the registry's network rules deny. This is the registry's "
       "firewall or the deployment's outbound path, not a missing AcrPull role",
       "Give the deployment a private path to the registry: with a workspace managed VNet make sure the registry's "
       "private endpoint outbound rule is Active (provision the network); with the legacy method recreate the "
       "deployment with egress_public_network_access disabled and approve the registry's egress connection. Do "
       "not open the registry's firewall to the public IP",
       ("az ml workspace outbound-rule list -g {resource_group} -w {workspace}",
        "az ml workspace provision-network -g {resource_group} -n {workspace}",
        "az network private-endpoint-connection list --id {registry_id}")),
    _p("registry-unauthorized",
       [r"unauthorized: authentication required", r"pull access denied", r"(?:401|403)[^\n]*azurecr\.io",
        r"azurecr\.io(?![^\n]*client with IP)[^\n]*(?:unauthorized|denied|forbidden)"],
       "the image pull was refused by the container registry",
       "the deployment could not authenticate to the workspace container registry (or, with the legacy isolation "
       "method, its egress private endpoint connection is not approved), so the image was never pulled",
       "Grant the endpoint's identity AcrPull on the workspace registry; with legacy isolation, approve the "
       "registry's egress private endpoint connection",
       ('az role assignment create --assignee-object-id {principal_id} --assignee-principal-type ServicePrincipal '
        '--role AcrPull --scope {registry_id}',
        "az network private-endpoint-connection list --id {registry_id}")),
    _p("registry-manifest-unknown",
       [r"manifest unknown", r"manifest for \S+ not found", r"MANIFEST_UNKNOWN"],
       "the image does not exist in the registry",
       "the deployment names an image tag the registry does not hold (deleted, or never built because the "
       "image build failed)",
       "Rebuild the environment image (a new environment version, or the image build compute when the registry "
       "is private) and update the deployment",
       (UPDATE_DEPLOYMENT,)),
    _p("image-pull",
       [r"ImagePullFailed[^\n]*", r"UserContainerImagePull:\s*Failed[^\n]*", r"Failed to pull image[^\n]*",
        r"\b(?:ErrImagePull|ImagePullBackOff)\b[^\n]*"],
       "the container image could not be pulled",
       "the image of the deployment could not be pulled from the workspace container registry: the registry is "
       "not reachable from the deployment's network, refused its identity, or does not hold the image",
       "Check the deployment's path to the registry (its private endpoint connection or the managed network's "
       "outbound rule) and that the endpoint's identity holds AcrPull on it; the registry's own logs and the "
       "StorageInitializer log name the refusal",
       ("az network private-endpoint-connection list --id {registry_id}",
        "az role assignment list --assignee {principal_id} --scope {registry_id} -o table"),
       fallback=True),
    _p("package-index-unreachable",
       [r"Could not find a version that satisfies the requirement[^\n]*",
        r"No matching distribution found for[^\n]*",
        r"Connection to (?:pypi\.org|files\.pythonhosted\.org|[\w.-]*anaconda\.(?:org|com)|conda\.anaconda\.org)"
        r" timed out[^\n]*",
        r"CondaHTTPError: HTTP 000 CONNECTION FAILED[^\n]*",
        r"Failed to establish a new connection[^\n]*(?:/simple/|pypi\.org|pythonhosted\.org|anaconda\.(?:org|com))",
        r"(?:pypi\.org|pythonhosted\.org|anaconda\.(?:org|com))[^\n]*Failed to establish a new connection"],
       "the package index could not be reached",
       "pip or conda could not reach {host} to install the environment's packages: the deployment's network allows "
       "only approved outbound traffic (or no internet at all), and nothing approves the package index",
       "Add FQDN outbound rules for {host} to the workspace managed VNet (pip needs pypi.org and "
       "files.pythonhosted.org; conda needs conda.anaconda.org and repo.anaconda.com; FQDN rules need "
       "AllowOnlyApprovedOutbound) and provision the network; or install from a private feed the network reaches, "
       "or bake the packages into the image",
       ("az ml workspace outbound-rule set -g {resource_group} -w {workspace} --rule allow-{host_rule} --type fqdn "
        "--destination {host}",
        "az ml workspace provision-network -g {resource_group} -n {workspace}"),
       wording={"host": "the package index (pypi.org, files.pythonhosted.org or conda.anaconda.org)"},
       extract={"host": r"Connection to ([\w.-]+[\w]) timed out|host='([^']+)'|CONNECTION FAILED for url "
                        r"<https?://([\w.-]+[\w])"}),
    _p("model-download",
       [r"Failed to download (?:the )?model[^\n]*", r"Error downloading[^\n]*",
        r"AzureMLException[^\n]*\bmodel\b[^\n]*", r"Model download failed[^\n]*"],
       "the model could not be downloaded",
       "the storage initializer could not download the model from the workspace storage: the storage account "
       "is not reachable from the deployment's network (an inactive private endpoint outbound rule, a closed "
       "firewall) or refused the endpoint's identity; the lines in the evidence say which",
       "Give the deployment a path to the workspace storage account (its private endpoint outbound rule Active, "
       "the network provisioned) and grant the endpoint's identity Storage Blob Data Reader on it, then update "
       "the deployment",
       ("az ml workspace outbound-rule list -g {resource_group} -w {workspace}",
        "az role assignment list --assignee {principal_id} --scope {storage_id} -o table",
        UPDATE_DEPLOYMENT),
       fallback=True),
    _p("name-resolution",
       [r"Failed to resolve '[^']+'", r"Name or service not known",
        r"Temporary failure in name resolution", r"getaddrinfo (?:failed|ENOTFOUND)[^\n]*",
        r"NameResolutionError", r"Could not resolve host"],
       "a host name did not resolve",
       "the container could not resolve {host}: with no public outbound access, every host the scoring script "
       "or its package installs reach must have an outbound rule (managed VNet) or a private DNS entry",
       "Add an outbound rule for {host} to the workspace managed VNet (FQDN rules need "
       "AllowOnlyApprovedOutbound) and provision the network, or make the code stop calling it",
       ("az ml workspace outbound-rule set -g {resource_group} -w {workspace} --rule allow-{host_rule} --type fqdn "
        "--destination {host}",
        "az ml workspace provision-network -g {resource_group} -n {workspace}"),
       wording={"host": "a host name it needs"},
       extract={"host": r"Failed to resolve '([^']+)'|host='([^']+)'|resolve host:? '?([\w.-]+[\w])"}),
    _p("out-of-memory",
       [r"\bOOMKilled\b", r"\bMemoryError\b", r"\bout of memory\b", r"exit(?:ed with)? code:? 137\b",
        r"Worker \(pid:\d+\) was sent SIGKILL", r"^\s*Killed\s*$"],
       "the container ran out of memory",
       "the process was killed for exceeding the instance's memory, usually while loading the model in init()",
       "Use an instance type with more memory (a new deployment with a larger SKU, then move the traffic), or "
       "load less in init() (fewer workers, a smaller model)",
       ("az ml online-deployment create -e {endpoint} -n {deployment}-large -g {resource_group} -w {workspace} "
        "-f <deployment.yml> --set instance_type=<larger SKU>",)),
    _p("probe-failure",
       [r"(?:Liveness|Readiness) probe failed[^\n]*", r"probe (?:failed|timed out)[^\n]*"],
       "health probes failed",
       "the inference server did not answer its liveness or readiness probe in time (a slow init(), or a "
       "crash); the platform restarts the container and the deployment does not become healthy",
       "If init() is slow, raise the probes' initial_delay (and timeout) in the deployment; otherwise fix the "
       "crash the inference server log shows",
       ("az ml online-deployment update -e {endpoint} -n {deployment} -g {resource_group} -w {workspace} "
        "--set liveness_probe.initial_delay=600 readiness_probe.initial_delay=600",)),
    _p("python-traceback",
       [r"Traceback \(most recent call last\)", r"^\s*\w+(?:\.\w+)*(?:Error|Exception): .+"],
       "the scoring script raised an exception",
       "a Python exception escaped the scoring script (usually in init()); its last lines say which",
       "Fix the exception in the scoring script; debug it locally with the inference HTTP server or --local",
       ("az ml online-deployment create -e {endpoint} -n {deployment} -f <deployment.yml> --local",),
       fallback=True),
)


@dataclass
class Finding:
    pattern: Pattern
    container: str
    lines: list[str] = field(default_factory=list)  # distinct matching lines, first MAX_LINES
    count: int = 0  # matching lines in all
    groups: dict[str, str] = field(default_factory=dict)  # names extracted from the lines (first value found)

    def names(self, known: dict[str, str]) -> _Names:
        """Names for the prose templates: the log's own words for what it did not name."""
        return _Names({**dict(self.pattern.wording), **known, **self.groups})

    def explanation(self, known: dict[str, str] | None = None) -> str:
        names = self.names(known or {})
        return f"{self.pattern.title.format_map(names)}: {self.pattern.explanation.format_map(names)}"

    def fix(self, known: dict[str, str] | None = None) -> str:
        return self.pattern.fix.format_map(self.names(known or {}))

    def commands(self, known: dict[str, str]) -> list[Command]:
        """The pattern's commands with the names filled in (quoted); a name nobody knows is a placeholder; a
        command that needs a name the log gave in a form not valid for it is left out."""
        values: dict[str, object] = dict(known)
        invalid = set()
        for name, value in self.groups.items():
            if VALID.get(name, lambda _: True)(value):
                values[name] = value
            else:
                invalid.add(name)
        if "host" in values:
            values["host_rule"] = re.sub(r"[^a-z0-9-]+", "-", str(values["host"]).lower()).strip("-")[:60]
        elif "host" in invalid:
            invalid.add("host_rule")
        out = []
        for template in self.pattern.commands:
            fields = {f for _, f, _, _ in string.Formatter().parse(template) if f}
            if not fields & invalid:
                out.append(command(template, **{f: values.get(f, Placeholder(f)) for f in fields}))
        return out

    def to_json(self, known: dict[str, str] | None = None) -> dict:
        return {"pattern": self.pattern.id, "container": self.container, "explanation": self.explanation(known),
                "count": self.count, "lines": list(self.lines)}


class _Names(dict):
    """format_map names for prose: unknown ones print as <name>, never an invented value."""

    def __missing__(self, key: str) -> str:
        return f"<{key}>"


def scan(text: str, container: str = "") -> list[Finding]:
    """Findings in one log, in table order; fallback patterns only when nothing specific matched."""
    if not isinstance(text, str) or not text:
        return []
    from moediag.redact import scrub  # here: `moediag list` loads this module and need not compile the table

    text = scrub(text)  # before any line is cut to MAX_LINE_CHARS (a replayed snapshot may hold raw text)
    found: dict[str, Finding] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        for pattern in PATTERNS:
            match = pattern.regex.search(line)
            if match is None:
                continue
            finding = found.setdefault(pattern.id, Finding(pattern, container))
            finding.count += 1
            shown = stripped[:MAX_LINE_CHARS]
            if shown not in finding.lines and len(finding.lines) < MAX_LINES:
                finding.lines.append(shown)
            for name, regex in pattern.extract:
                hit = regex.search(line) if name not in finding.groups else None
                value = next((g for g in hit.groups() if g), None) if hit else None
                if value:
                    finding.groups[name] = value
    specific = [p for p in PATTERNS if p.id in found and not p.fallback]
    chosen = specific or [p for p in PATTERNS if p.id in found]
    return [found[p.id] for p in chosen]


def last_lines(text: str, count: int = 10) -> list[str]:
    """The last non-empty lines of a log, for a result that found nothing it recognises."""
    if not isinstance(text, str):
        return []
    from moediag.redact import scrub

    text = scrub(text)  # before any line is cut
    lines = [line.rstrip()[:MAX_LINE_CHARS] for line in text.splitlines() if line.strip()]
    return lines[-count:]
