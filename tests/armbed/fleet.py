"""A fleet of workspaces across subscriptions, as a platform team has them, for `moediag scan`.

Each subscription has its workspaces in `rg-ml`, their private endpoints in one hub VNet in `rg-net`
(`vnet-hub-<k>`), and every workspace registers in ONE pair of private DNS zones that lives in the first
subscription's `rg-dns` and is linked to every hub VNet. `install(bed)` installs each `WorkspaceScenario`,
then merges what they share (the zones' record and link lists, the network groups' resource lists), and
serves the inventory on the bed's Resource Graph endpoint. `hidden` subscriptions are what an identity with no
role there meets: Resource Graph leaves them out, and Resource Manager answers 403.

A platform team's layout (`hub=True`): every private endpoint, its NIC, the one hub VNet and the zones live in a
hub subscription of their own (`hub_subscription`), which every workspace's evidence passes through. `share=N`:
each N consecutive workspaces of a subscription share one Key Vault, registry and storage account.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import bodies
from .graph import ResourceGraph
from .scenarios import ML, Deployment, Endpoint, WorkspaceScenario

ENDPOINT_TYPE = f"{ML}/workspaces/onlineEndpoints"
TENANT_ROOT = WorkspaceScenario.tenant_id  # the tenant root group is named by the tenant id


def subscription_id(k: int | str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"moediag-fleet-subscription-{k}"))


@dataclass
class Fleet:
    scenarios: list[WorkspaceScenario]
    subscriptions: list[str]  # the readable ones, in order
    hidden: list[str] = field(default_factory=list)  # subscriptions the identity cannot read
    hidden_scenarios: list[WorkspaceScenario] = field(default_factory=list)
    management_groups: dict[str, list[str]] = field(default_factory=dict)
    chains: dict[str, list[dict[str, str]]] = field(default_factory=dict)  # subscription -> its ancestors chain
    page_size: int = 50
    graph: ResourceGraph | None = None
    hub_subscription: str | None = None  # with hub=True: where every private endpoint, the VNet and the zones are

    def install(self, bed: Any) -> Fleet:
        everything = self.scenarios + self.hidden_scenarios
        for s in everything:
            s.install(bed)
        _merge_zones(bed, everything)
        _merge_resource_lists(bed, everything)
        rows = [row for s in everything for row in inventory_rows(s)]
        rows += [_subscription_row(sub, f"ml-fleet-{i}", self.ancestors(sub))
                 for i, sub in enumerate(self.subscriptions + self.hidden)]
        self.graph = ResourceGraph(rows, set(self.hidden), self.management_groups, self.page_size).install(bed)
        for sub in self.hidden:
            bed.forbid_scope(f"/subscriptions/{sub}")
        return self

    def ancestors(self, sub: str) -> list[dict[str, str]]:
        """The subscription's management groups as Resource Graph's `managementGroupAncestorsChain` gives them:
        immediate parent first, the tenant root group last. `chains` overrides it per subscription."""
        if sub in self.chains:
            return self.chains[sub]
        return [{"name": "mg-ml-platform", "displayName": "ML platform"},
                {"name": TENANT_ROOT, "displayName": "Tenant Root Group"}]

    def dns_records(self) -> dict[str, list[tuple[str, str]]]:
        """What the hub VNets' DNS answers, for every workspace of the fleet."""
        records: dict[str, list[tuple[str, str]]] = {}
        for s in self.scenarios:
            records.update(s.dns_records())
        return records

    @property
    def endpoints(self) -> int:
        return sum(len(s.endpoints) for s in self.scenarios)

    def scenario(self, k: int, i: int) -> WorkspaceScenario:
        return next(s for s in self.scenarios if s.subscription_id == self.subscriptions[k] and s.workspace == _name(k, i))


def fleet(subscriptions: int = 3, workspaces: int = 10, endpoints: int = 5, *, hidden: int = 0,
          missing_records: set[tuple[int, int]] = frozenset(),
          overrides: dict[tuple[int, int], Callable[[WorkspaceScenario], WorkspaceScenario]] | None = None,
          page_size: int = 50, hub: bool = False, share: int = 1) -> Fleet:
    """`subscriptions` x `workspaces` workspaces with `endpoints` online endpoints each (one deployment `blue` at
    100%), all registered in one shared zone. `missing_records`: (subscription, workspace) indexes whose inference
    record the shared zone lacks. `overrides`: (k, i) -> a function changing that workspace's scenario. `hidden`
    more subscriptions, with two workspaces each, that the identity cannot read. `hub`: the private endpoints, the
    VNet and the zones in a hub subscription; `share`: workspaces per shared Key Vault, registry and storage."""
    overrides = overrides or {}
    hub_sub = subscription_id("hub") if hub else None
    zone_sub = hub_sub or subscription_id(0)

    def workspace(k: int, i: int) -> WorkspaceScenario:
        s = _workspace(k, i, endpoints, zone_sub)
        if hub:
            s = _in_hub(s, hub_sub, k * workspaces + i)
        if share > 1:
            g = i // share
            s = s.replace(key_vault_name=f"kv-s{k}-g{g}", registry_name=f"acrs{k}g{g}", storage_name=f"sts{k}g{g}",
                          app_insights_name=f"appi-s{k}-g{g}")
        return s

    def build(k: int) -> list[WorkspaceScenario]:
        out = []
        for i in range(workspaces):
            s = workspace(k, i)
            if (k, i) in missing_records:
                s = s.replace(inference_record_ip=None)
            out.append(overrides.get((k, i), lambda x: x)(s))
        return out

    built = Fleet([s for k in range(subscriptions) for s in build(k)],
                  [subscription_id(k) for k in range(subscriptions)],
                  [subscription_id(k) for k in range(subscriptions, subscriptions + hidden)],
                  [workspace(k, i) for k in range(subscriptions, subscriptions + hidden) for i in range(2)],
                  page_size=page_size, hub_subscription=hub_sub)
    built.management_groups = {"mg-ml-platform": built.subscriptions + built.hidden,
                               TENANT_ROOT: built.subscriptions + built.hidden}
    return built


def _in_hub(s: WorkspaceScenario, hub_sub: str, n: int) -> WorkspaceScenario:
    """The workspace's private endpoint in the hub's one VNet (`vnet-hub`, one subnet for the whole fleet); the `n`th
    workspace of the fleet gets the `n`th four addresses."""
    third, fourth = 10 + n // 60, 10 + (n % 60) * 4
    ips = [f"10.200.{third}.{fourth + j}" for j in range(4)]
    return s.replace(net_subscription_id=hub_sub, vnet_name="vnet-hub", subnet_prefix="10.200.0.0/16",
                     clients_subnet_prefix="10.201.0.0/16", vnet_address_prefixes=["10.200.0.0/15"],
                     pe_workspace_ip=ips[0], pe_cert_ip=ips[1], pe_inference_ip=ips[2], pe_notebook_ip=ips[3])


def _name(k: int, i: int) -> str:
    return f"ws-s{k}-{i:02d}"


def _workspace(k: int, i: int, endpoints: int, zone_sub: str) -> WorkspaceScenario:
    name = _name(k, i)
    base = 10 + 4 * i
    return WorkspaceScenario(
        subscription_id=subscription_id(k),
        dns_subscription_id=zone_sub,
        workspace=name,
        workspace_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"moediag-fleet-workspace-{k}-{i}")),
        pe_name=f"pe-{name}",
        nic_guid=str(uuid.uuid5(uuid.NAMESPACE_URL, f"moediag-fleet-nic-{k}-{i}")),
        pe_workspace_ip=f"10.{k}.1.{base}", pe_cert_ip=f"10.{k}.1.{base + 1}",
        pe_inference_ip=f"10.{k}.1.{base + 2}", pe_notebook_ip=f"10.{k}.1.{base + 3}",
        vnet_name=f"vnet-hub-{k}", subnet_prefix=f"10.{k}.1.0/24", clients_subnet_prefix=f"10.{k}.2.0/24",
        vnet_address_prefixes=[f"10.{k}.0.0/16"],
        key_vault_name=f"kv-{name}", registry_name=f"acr{name.replace('-', '')}", storage_name=f"st{name.replace('-', '')}",
        app_insights_name=f"appi-{name}", image_build_compute="cpu-cluster",
        endpoints=[Endpoint(f"{name}-ep{j}", traffic={"blue": 100}, deployments=[Deployment("blue")])
                   for j in range(endpoints)],
    )


def inventory_rows(s: WorkspaceScenario) -> list[dict[str, Any]]:
    """What Resource Graph holds about a scenario: its workspace and its online endpoints (ARG lower-cases types)."""
    def row(rid: str, rtype: str, name: str, kind: str = "") -> dict[str, Any]:
        return {"id": rid, "name": name, "type": rtype.lower(), "subscriptionId": s.subscription_id,
                "resourceGroup": s.resource_group, "location": s.location, "kind": kind, "tenantId": s.tenant_id}

    return [row(s.workspace_arm_id, f"{ML}/workspaces", s.workspace, "Default"),
            *(row(s.endpoint_id(e.name), ENDPOINT_TYPE, e.name) for e in s.endpoints)]


def _subscription_row(sub: str, name: str, chain: list[dict[str, str]]) -> dict[str, Any]:
    """A `resourcecontainers` row as the inventory query projects it (the chain from `properties`)."""
    return {"id": f"/subscriptions/{sub}", "name": name, "type": "microsoft.resources/subscriptions",
            "subscriptionId": sub, "resourceGroup": "", "location": "", "kind": "",
            "managementGroupAncestorsChain": chain}


def _merge_zones(bed: Any, scenarios: list[WorkspaceScenario]) -> None:
    """Each scenario installed the shared zones with only its own records and link: serve the union."""
    zones: dict[str, tuple[WorkspaceScenario, str, list[dict], dict[str, dict]]] = {}
    for s in scenarios:
        for zone_name, records in s.zone_records().items():
            zid = s.zone_id(zone_name)
            _, _, a_records, links = zones.setdefault(zid.lower(), (s, zone_name, [], {}))
            a_records += [bodies.a_record(s, zone_name, n, ip) for n, ip in records.items()]
            links.update({link["id"].lower(): link for link in bodies.vnet_links(s, zone_name)})
    for s, zone_name, a_records, links in zones.values():
        zid = s.zone_id(zone_name)
        bed.collection(f"{zid}/A", a_records)
        bed.collection(f"{zid}/ALL", [bodies.soa_record(s, zone_name), *a_records])
        bed.collection(f"{zid}/virtualNetworkLinks", list(links.values()))


def _merge_resource_lists(bed: Any, scenarios: list[WorkspaceScenario]) -> None:
    """The network groups' generic resource lists (createdTime) hold every workspace's private endpoint."""
    lists: dict[str, dict[str, dict]] = {}
    for s in scenarios:
        if not s.private_endpoint:
            continue
        net_sub = s.net_subscription_id or s.subscription_id
        rg = f"/subscriptions/{net_sub}/resourceGroups/{s.net_resource_group}"
        items = [bodies.generic_resource(s.private_endpoint_id, "Microsoft.Network/privateEndpoints", s.location, s.pe_created_time),
                 bodies.generic_resource(s.nic_id, "Microsoft.Network/networkInterfaces", s.location, s.pe_created_time),
                 bodies.generic_resource(s.vnet_id, "Microsoft.Network/virtualNetworks", s.location, "2023-05-08T16:02:11.5512345Z")]
        for scope in (rg, f"/subscriptions/{net_sub}"):
            lists.setdefault(scope, {}).update({item["id"].lower(): item for item in items})
    for scope, items in lists.items():
        bed.resources(scope, list(items.values()))


def peak_in_flight_by_subscription(requests: list[Any]) -> dict[str, int]:
    """From the bed's request log: the most requests under each `/subscriptions/<id>` answered at once."""
    events: dict[str, list[tuple[float, int]]] = {}
    for r in requests:
        parts = r.path.split("/")
        if len(parts) > 2 and parts[1] == "subscriptions":
            events.setdefault(parts[2], []).extend([(r.started_at, 1), (r.finished_at, -1)])
    peaks = {}
    for sub, points in events.items():
        level = peak = 0
        for _, step in sorted(points, key=lambda p: (p[0], p[1])):  # a finish before a start at the same instant
            level += step
            peak = max(peak, level)
        peaks[sub] = peak
    return peaks
