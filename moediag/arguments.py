"""The one place the command line is parsed and validated ("parse at the edge").

Each command calls these before anything is read or written; what they return is typed and checked, so nothing
downstream validates again. Every problem is a one-line UsageError (exit 2). File inputs (a snapshot, a report,
moediag.toml) are read and checked in moediag.inputs; the workspace named by flags or az defaults in
moediag.target.
"""

from __future__ import annotations

import os
import re
import sys

from moediag.errors import UsageError

ARM_ENDPOINT_ENV = "MOEDIAG_ARM_ENDPOINT"
ARM_RATE_ENV = "MOEDIAG_ARM_RATE"


def outputs(values: tuple[str, ...], choices: tuple[str, ...] | None = None) -> list[tuple[str, str | None]]:
    """`-o FORMAT[=PATH]`, repeatable; at most one format may take stdout. `choices`: the formats (default: a
    check or scan report's)."""
    from moediag.render import FORMATS

    choices = choices or FORMATS
    found = []
    for value in values or ("table" if sys.stdout.isatty() else "json",):
        fmt, eq, path = value.partition("=")
        if fmt not in choices:
            raise UsageError(f"unknown output format {fmt!r} (choose from {', '.join(choices)})")
        if eq and not path:
            raise UsageError(f"-o {value}: a path is needed after '='")
        found.append((fmt, path or None))
    if sum(1 for _, p in found if p is None) > 1:
        raise UsageError("at most one output format may go to stdout; give the others a path (-o json=report.json)")
    return found


def paths(formats: list[tuple[str, str | None]], others: list[tuple[str, str]],
          inputs: list[tuple[str, str | None]]) -> None:
    """Before the run: every output path can be written, and no two outputs (or an output and an input) are
    one file. UsageError otherwise."""
    from moediag.snapshot import check_output_paths

    named = [(f"-o {fmt}={path}", path) for fmt, path in formats if path] + others
    check_output_paths(named, [(label, path) for label, path in inputs if path])


def dns_server(value: str, flag: str) -> str:
    """One HOST[:PORT] DNS server, checked so a typo is a usage error rather than a failed check."""
    from moediag.resolver import parse_server

    try:
        parse_server(value)
    except ValueError as exc:
        raise UsageError(f"bad {flag} {value!r}: {exc}") from exc
    return value.strip()


def dns_servers(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dns_server(v, "--dns-server") for v in values)


def client_vnets(values: tuple[str, ...], configured: tuple[str, ...] = ()) -> tuple[str, ...]:
    """--client-vnet VNET_ID (repeatable) and moediag.toml's `client_vnets`: virtual network ids, each once
    (ids compare case-insensitively), the flags' first."""
    found: dict[str, str] = {}
    for value in (*values, *configured):
        checked = vnet_id(value, "--client-vnet")
        found.setdefault(checked.lower(), checked)
    return tuple(found.values())


def no_client_vnets_with_snapshot(values) -> None:
    """--client-vnet (or moediag.toml's) beside --snapshot: a replay reads nothing live, so it would be ignored."""
    if values:
        raise UsageError("--client-vnet reads live: a snapshot replays the client VNets it was taken with")


def vnet_id(value: str, flag: str) -> str:
    """One virtual network's ARM id, checked so a typo is a usage error rather than a failed check."""
    from moediag.resource_id import parse
    from moediag.target import _GUID, _NAME

    parsed = parse(value) if isinstance(value, str) else None
    if (parsed is None or not parsed.is_type("Microsoft.Network/virtualNetworks") or not _GUID.match(parsed.subscription)
            or not _NAME.match(parsed.resource_group) or not re.fullmatch(r"[\w.-]{1,80}", parsed.name)):
        raise UsageError(f"bad {flag} {value!r}: expected a virtual network id like /subscriptions/<guid>/resourceGroups/"
                         "<group>/providers/Microsoft.Network/virtualNetworks/<name>")
    return parsed.text.rstrip("/")


def azure_dns(value: str | None) -> str | None:
    """--azure-dns [HOST[:PORT]]: None when not asked."""
    return None if value is None else dns_server(value, "--azure-dns")


def cloud(value: str | None, arm_endpoint: str | None = None) -> str:
    """The run's cloud: --cloud, else MOEDIAG_CLOUD, else the cloud whose Resource Manager --arm-endpoint (or
    MOEDIAG_ARM_ENDPOINT) names, else az's configured cloud (`az cloud set`), else the public cloud."""
    from moediag import clouds
    from moediag.target import az_cloud

    given = value or os.environ.get(clouds.CLOUD_ENV)
    endpoint = arm_endpoint or os.environ.get(ARM_ENDPOINT_ENV)
    at = _cloud_at(endpoint) if endpoint else None
    if given:
        chosen = clouds.named(given)
        if at is not None and at is not chosen:
            raise UsageError(f"--arm-endpoint {endpoint} is the Resource Manager of {at.name}, not of --cloud "
                             f"{chosen.name}: give one or the other")
        return chosen.name
    if at is not None:
        return at.name
    configured = az_cloud()
    if not configured:
        return clouds.DEFAULT
    try:
        return clouds.named(configured).name
    except UsageError:
        raise UsageError(f"the az CLI is set to cloud {configured!r}, which moediag does not know (it knows "
                         f"{', '.join(clouds.CLOUDS)}): pass --cloud") from None


def _cloud_at(endpoint: str):
    """The known cloud whose Resource Manager `endpoint` is, or None (a test bed, a proxy)."""
    from moediag import clouds
    from moediag.arm import origin_of

    origin = origin_of(endpoint)
    return next((c for c in clouds.CLOUDS.values() if origin and origin_of(c.resource_manager) == origin), None)


def arm_endpoint(value: str | None, cloud_name: str | None = None) -> str:
    """--arm-endpoint, else MOEDIAG_ARM_ENDPOINT, else the cloud's (`cloud_name`, default the public one): an https
    origin the token may go to."""
    from moediag import clouds
    from moediag.arm import origin_of

    endpoint = value or os.environ.get(ARM_ENDPOINT_ENV) or clouds.named(cloud_name or clouds.DEFAULT).resource_manager
    if not endpoint.startswith("https://") or origin_of(endpoint) is None:
        raise UsageError(f"--arm-endpoint must be an https:// URL, not {endpoint!r}")
    return endpoint


def arm_rate(value: str | None) -> tuple[int, float]:
    """--arm-rate BURST/PER_SECOND, else MOEDIAG_ARM_RATE, else Resource Manager's documented read budget per
    subscription (250/25): the pace moediag keeps per subscription before Resource Manager has to throttle it."""
    import math

    from moediag.arm import ARM_RATE

    text = value if value is not None else os.environ.get(ARM_RATE_ENV)
    if text is None:
        return ARM_RATE
    flag = "--arm-rate" if value is not None else ARM_RATE_ENV
    burst, slash, per_s = text.strip().partition("/")
    try:
        parsed = (int(burst), float(per_s)) if slash else None
    except ValueError:
        parsed = None
    if parsed is None or not 1 <= parsed[0] <= 100_000 or not math.isfinite(parsed[1]) or not 0 < parsed[1] <= 10_000:
        raise UsageError(f"{flag} must be BURST/PER_SECOND (requests in a burst, then per second; e.g. 250/25), "
                         f"not {text!r}")
    return parsed


def data_file(name: str) -> str:
    """The path of a file moediag ships (moediag/data): the report's JSON Schema, the bundled example."""
    from importlib.resources import files

    return str(files("moediag") / "data" / name)


EXAMPLE = "broken-workspace.snapshot.json"


def snapshot_path(path: str | None, example: bool) -> str | None:
    """--snapshot FILE, or --example: the bundled example (a broken workspace); not both."""
    if not example:
        return path
    if path:
        raise UsageError("give --example or --snapshot, not both")
    return data_file(EXAMPLE)
def snapshot_cloud(stored_options: dict, value: str | None) -> None:
    """--cloud given with --snapshot must name the snapshot's cloud (a replay judges by the names it was read in)."""
    from moediag import clouds

    if value:
        stored = clouds.named(stored_options.get("cloud") or clouds.DEFAULT)
        if clouds.named(value) is not stored:
            raise UsageError(f"--cloud {value} does not match the snapshot's cloud {stored.name!r}")


def same_target(stored: dict, subscription, resource_group, workspace) -> None:
    """-s/-g/-w given with --snapshot must name the snapshot's workspace."""
    for flag, given, key in (("-s", subscription, "subscription_id"), ("-g", resource_group, "resource_group"),
                             ("-w", workspace, "workspace")):
        if given and given.lower() != str(stored.get(key, "")).lower():
            raise UsageError(f"{flag} {given} does not match the snapshot's {key} {stored.get(key)!r}")


def same_scope(stored: dict, given) -> None:
    """-s or --management-group given with `scan --snapshot` must name the snapshot's scope."""
    for flag, key, values in (("-s", "subscriptions", given.subscriptions),
                              ("--management-group", "management_groups", given.management_groups)):
        if values and sorted(v.lower() for v in values) != sorted(str(v).lower() for v in stored.get(key) or ()):
            raise UsageError(f"{flag} {','.join(values)} does not match the snapshot's scope "
                             f"({stored.get('kind')}: {', '.join(stored.get(key) or ()) or 'none'})")


def scope(subscriptions: tuple[str, ...], management_groups: tuple[str, ...]):
    """`scan`'s --subscription (GUIDs, repeatable or comma-separated) or --management-group, not both."""
    from moediag.scan import ScanScope
    from moediag.target import _GUID

    subs: list[str] = []
    for value in subscriptions:
        for sub in (s.strip() for s in value.split(",")):
            if not _GUID.match(sub):
                raise UsageError(f"malformed subscription id {sub!r}: expected a GUID like 00000000-0000-0000-0000-000000000000")
            if sub.lower() not in subs:
                subs.append(sub.lower())
    groups = [g.strip() for value in management_groups for g in value.split(",") if g.strip()]
    if subs and groups:
        raise UsageError("give --subscription or --management-group, not both (Resource Graph takes one kind of scope)")
    return ScanScope(tuple(subs), tuple(dict.fromkeys(groups)))


def docs_base() -> str:
    """MOEDIAG_DOCS_BASE, checked before a run so a bad value is one line, not a crash half-way."""
    from moediag.links import docs_base as base

    try:
        return base()
    except ValueError as exc:
        raise UsageError(str(exc)) from None
