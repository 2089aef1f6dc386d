"""The dependency picture in the Markdown report: a Mermaid flowchart GitHub and Azure DevOps draw in place.

Two paths: what a scoring request depends on (client resolver, scoring host, zone record, workspace
private endpoint, VNet, then the endpoint) and what a deployment depends on (workspace, managed network,
Key Vault, registry, storage). Each element carries the worst status of the results about it (fail, error,
warn, pass, then skip: a skip says less than a pass, not something worse); elements no result is about
are drawn dashed as "not checked".
"""

from __future__ import annotations

from typing import Any

from moediag.render.inert import inert
from moediag.resource_id import parse

# (node id, label), in drawing order.
ELEMENTS = (
    ("client", "Client resolver"),
    ("scoring", "Scoring host"),
    ("zone", "Private DNS zone record"),
    ("pe", "Workspace private endpoint"),
    ("vnet", "VNet"),
    ("endpoint", "Online endpoint"),
    ("deployment", "Deployments"),
    ("workspace", "Workspace"),
    ("mnet", "Managed network"),
    ("kv", "Key Vault"),
    ("acr", "Container registry"),
    ("storage", "Storage"),
)

# Check id prefixes that say which element a check is about, most specific first.
BY_CHECK = (
    ("dns.scoring-resolution", ("client", "scoring")),
    ("dns.custom-dns", ("client",)),
    ("dns.zone-vnet-link", ("vnet",)),
    ("dns.inference-a-record", ("zone",)),
    ("dns.", ("zone",)),
    ("network.", ("vnet",)),
    ("vnet.", ("vnet",)),
    ("workspace.private-endpoint", ("pe",)),
    ("workspace.managed-network", ("mnet",)),
    ("workspace.outbound-rules", ("mnet",)),
    ("keyvault.", ("kv",)),
    ("acr.", ("acr",)),
    ("registry.", ("acr",)),
    ("storage.", ("storage",)),
    ("endpoint.", ("endpoint",)),
    ("deployment.", ("deployment",)),
)

# For any other check (workspace.* and third-party ids), the type of the resource a result is about.
BY_RESOURCE = (
    ("microsoft.keyvault/", "kv"),
    ("microsoft.containerregistry/", "acr"),
    ("microsoft.storage/", "storage"),
    ("microsoft.network/privateendpoints", "pe"),
    ("microsoft.network/virtualnetworks", "vnet"),
    ("microsoft.network/privatednszones", "zone"),
    ("microsoft.machinelearningservices/workspaces/onlineendpoints/deployments", "deployment"),
    ("microsoft.machinelearningservices/workspaces/onlineendpoints", "endpoint"),
    ("microsoft.machinelearningservices/workspaces/privateendpointconnections", "pe"),
    ("microsoft.machinelearningservices/workspaces/outboundrules", "mnet"),
)

EDGES = (
    ("client", "-->|resolves|", "scoring"),
    ("scoring", "-->|CNAME|", "zone"),
    ("zone", "-->|A record|", "pe"),
    ("vnet", "-.-|zone link|", "zone"),
    ("pe", "-.-|subnet|", "vnet"),
    ("pe", "-->|request|", "endpoint"),
    ("endpoint", "-->", "deployment"),
    ("workspace", "-->", "endpoint"),
    ("deployment", "-->|outbound|", "mnet"),
    ("workspace", "-->", "mnet"),
    ("mnet", "-->", "kv"),
    ("mnet", "-->", "acr"),
    ("mnet", "-->", "storage"),
)

SUBGRAPHS = (
    ("request", "Scoring request", ("client", "scoring", "zone", "pe", "vnet")),
    ("deploy", "Deployment", ("endpoint", "deployment", "workspace", "mnet", "kv", "acr", "storage")),
)

# Worst first, for the element's mark.
RANK = ("fail", "error", "warn", "pass", "skip")
CLASSES = {
    "fail": "fill:#ffebe9,stroke:#cf222e,stroke-width:2px,color:#1f2328",
    "error": "fill:#fbefff,stroke:#8250df,stroke-width:2px,color:#1f2328",
    "warn": "fill:#fff8c5,stroke:#9a6700,stroke-width:2px,color:#1f2328",
    "pass": "fill:#dafbe1,stroke:#1a7f37,color:#1f2328",
    "skip": "fill:#f6f8fa,stroke:#8c959f,color:#1f2328",
    "unchecked": "fill:#ffffff,stroke:#8c959f,stroke-dasharray:4 4,color:#57606a",
}
BLOCKED = "stroke:#cf222e,stroke-width:5px"
WORDS = {"fail": "FAIL", "error": "ERROR (not evaluated)", "warn": "WARN", "pass": "PASS", "skip": "SKIP",
         "unchecked": "not checked"}


def elements_of(result: dict[str, Any]) -> tuple[str, ...]:
    check_id = result["check_id"].lower()
    for prefix, elements in BY_CHECK:
        if check_id.startswith(prefix):
            return elements
    rid = parse(result.get("resource_id"))
    if rid is not None:
        kind = rid.type.lower()
        for prefix, element in BY_RESOURCE:
            if kind.startswith(prefix):
                return (element,)
    return ("workspace",)


def found(report: dict[str, Any]) -> dict[str, list[str]]:
    """Element id -> the statuses of the results about it."""
    seen: dict[str, list[str]] = {element: [] for element, _ in ELEMENTS}
    for result in report["results"]:
        for element in elements_of(result):
            seen[element].append(result["status"])
    return seen


def worst(statuses: list[str]) -> str:
    return min(statuses, key=RANK.index) if statuses else "unchecked"


def _label(text: object) -> str:
    """Text safe inside a quoted Mermaid label, on one line: made inert, then every character but letters, digits,
    spaces and `.,:/-_()'+@` written as a Mermaid entity code (`#quot;`, `#93;`, ...), so nothing from evidence can
    end the label (`"`, `]`), the statement (`;`, a newline), the code block (backticks), start a comment (`%%`), a
    Markdown string (a backtick) or a tag (`<`), or be read as an entity of its own (`#`, `&`)."""
    return "".join(ch if ch.isalnum() or ch in _LABEL_SAFE else _ENTITY.get(ch, f"#{ord(ch)};") for ch in inert(text))


_LABEL_SAFE = " .,:/-_()'+@"
_ENTITY = {'"': "#quot;", "<": "#lt;", ">": "#gt;"}


# The element each hop of moediag.diagnosis.PATHS is drawn as.
HOP_ELEMENT = {"client-resolver": "client", "private-name": "scoring", "zone-record": "zone", "zone-link": "vnet",
               "private-endpoint-subnet": "vnet", "private-endpoint": "pe", "public-access": "endpoint", "endpoint": "endpoint",
               "isolation-mode": "workspace", "outbound-network": "mnet", "registry": "acr", "storage": "storage",
               "key-vault": "kv", "image-build": "acr", "provisioning": "deployment", "container-start": "deployment"}


def blocking(report: dict[str, Any]) -> dict[str, list[str]]:
    """Element id -> the paths it blocks (`scoring of ep`, `deployment ep/blue`), from the diagnosis."""
    out: dict[str, list[str]] = {}
    for path in (report.get("diagnosis") or {}).get("paths") or []:
        element = HOP_ELEMENT.get(str(path.get("blocked_at")))
        if element:
            who = path["endpoint"] + (f"/{path['deployment']}" if path.get("deployment") else "")
            out.setdefault(element, []).append(f"{path['kind']} of {who}")
    return out


def render(report: dict[str, Any]) -> str:
    counts = found(report)
    blocked = blocking(report)
    marks = {element: worst(statuses) for element, statuses in counts.items()}
    names = {"workspace": [report["target"]["workspace"]], "scoring": report["target"].get("endpoints") or [],
             "endpoint": report["target"].get("endpoints") or []}
    labels = dict(ELEMENTS)
    lines = ["flowchart LR"]
    for sub_id, title, members in SUBGRAPHS:
        lines.append(f'  subgraph {sub_id}["{_label(title)}"]')
        for element in members:
            mark = marks[element]
            parts = [labels[element], *names.get(element, [])[:3]]
            seen = counts[element]
            word = WORDS[mark] + (f": {seen.count(mark)} of {len(seen)} result{'s' if len(seen) > 1 else ''}" if seen else "")
            stops = blocked.get(element, [])
            if stops:
                word += " - BLOCKS " + ", ".join(stops[:2]) + (f" and {len(stops) - 2} more" if len(stops) > 2 else "")
            text = "<br/>".join(_label(p) for p in [*parts, word])
            lines.append(f'    {element}["{text}"]')
        lines.append("  end")
    lines += [f"  {a} {arrow} {b}" for a, arrow, b in EDGES]
    lines += [f"  classDef st_{status} {style}" for status, style in CLASSES.items()]
    for status in CLASSES:
        members = [element for element, _ in ELEMENTS if marks[element] == status]
        if members:
            lines.append(f"  class {','.join(members)} st_{status}")
    if blocked:  # the blocking hops stand out: a thick border on top of their status colour
        lines.append(f"  classDef st_blocked {BLOCKED}")
        lines.append(f"  class {','.join(e for e, _ in ELEMENTS if e in blocked)} st_blocked")
    return "\n".join(lines) + "\n"
