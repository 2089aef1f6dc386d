"""WorkspaceScenario: a network-isolated Azure ML workspace, as ARM would serve it.

Why: every end-to-end test needs the same dozen related resources (workspace, private endpoint,
NIC, VNet, private DNS zone and records, Key Vault, registry, endpoints, deployments, ...) whose ids
point at each other. A scenario holds one coherent set of knobs with healthy defaults; a test
changes the one knob it is about (`healthy(v1_legacy_mode=True)`), calls `install(bed)`, and
the bed then serves every body at its ARM path. `dns_records()` gives what the VNet's DNS would
answer, for the DNS test server.

Knob conventions: for optional keys, `None` means "key absent" (v1_legacy_mode, creation_time,
kv_network_acls, managed_network_status, isolation_mode); the workspace's references to associated
resources (`key_vault`, `container_registry`, `storage_account`, `application_insights`) default to
AUTO (the derived ARM id) and otherwise are sent raw, so `""`, `"Sanitized"` or None (JSON null)
can be tested.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from . import bodies, clients


class _Auto:
    """Marker for "derive the healthy value from the other knobs"."""

    def __repr__(self) -> str:
        return "AUTO"


AUTO: Any = _Auto()

ML = "Microsoft.MachineLearningServices"
# What Azure names a workspace's endpoints in each cloud: (API domain, notebooks domain, inference domain). The
# bed's own table, from Microsoft's private endpoint DNS page, so tests compare moediag's table with it.
CLOUD_NAMES = {
    "AzureCloud": ("api.azureml.ms", "notebooks.azure.net", "inference.ml.azure.com"),
    "AzureUSGovernment": ("api.ml.azure.us", "notebooks.usgovcloudapi.net", "inference.ml.azure.us"),
    "AzureChinaCloud": ("api.ml.azure.cn", "notebooks.chinacloudapi.cn", "inference.ml.azure.cn"),
}

HEALTHY_INFERENCE_LOG = """\
2024-02-12T09:20:11,102 | root | INFO | Starting up app insights client
Azure ML Inferencing HTTP server v1.3.0

Server Settings
---------------
Entry Script Name: /var/azureml-app/onlinescoring/score.py
Model Directory: /var/azureml-app/azureml-models/churn-model/1
Worker Count: 1
Worker Timeout (seconds): 300
Server Port: 31311
Application Insights Enabled: false

Server Routes
---------------
Liveness Probe: GET   127.0.0.1:31311/
Score:          POST  127.0.0.1:31311/score

2024-02-12 09:20:12,418 I [1] gunicorn.error - Starting gunicorn 22.0.0
2024-02-12 09:20:12,419 I [1] gunicorn.error - Listening at: http://0.0.0.0:31311 (1)
2024-02-12 09:20:12,420 I [42] gunicorn.error - Booting worker with pid: 42
2024-02-12 09:20:14,003 I [42] azmlinfsrv - Users's init has completed successfully
2024-02-12 09:20:14,010 I [42] azmlinfsrv - Scoring timeout is set to 60000
2024-02-12 09:20:25,771 I [42] azmlinfsrv - GET /
2024-02-12 09:20:25,772 I [42] azmlinfsrv - 200
"""

HEALTHY_STORAGE_INIT_LOG = """\
2024-02-12T09:18:40.115Z | INFO | Starting model download
2024-02-12T09:18:41.902Z | INFO | Downloading azureml://models/churn-model/versions/1 to /var/azureml-app/azureml-models/churn-model/1
2024-02-12T09:18:44.330Z | INFO | Model download succeeded (3 files, 1.2 MB)
"""


def _default_logs() -> dict[str, str]:
    return {"InferenceServer": HEALTHY_INFERENCE_LOG, "StorageInitializer": HEALTHY_STORAGE_INIT_LOG}


@dataclass
class Deployment:
    """A managed online deployment. egress_public_network_access None = key absent (current method)."""

    name: str
    provisioning_state: str = "Succeeded"
    egress_public_network_access: str | None = None
    instance_type: str = "Standard_DS3_v2"
    instance_count: int = 1
    logs: dict[str, str] = field(default_factory=_default_logs)  # containerType -> text
    # The error of its latest operation (`{"code", "message", ...}`); set, the body records the operation's
    # AzureAsyncOperationUri and the bed serves its status (Failed, with this error). None: no operation recorded.
    operation_error: dict | None = None


@dataclass
class Endpoint:
    """A managed online endpoint; traffic maps deployment name -> percent (names may be missing)."""

    name: str
    traffic: dict[str, int] = field(default_factory=dict)
    deployments: list[Deployment] = field(default_factory=list)
    mirror_traffic: dict[str, int] = field(default_factory=dict)
    provisioning_state: str = "Succeeded"
    public_network_access: str = "Disabled"
    auth_mode: str = "Key"
    identity: dict | None = None  # the endpoint's identity block; None: system-assigned (bodies.ENDPOINT_PRINCIPAL)


def _default_endpoints() -> list[Endpoint]:
    return [Endpoint("ep-main", traffic={"blue": 100}, deployments=[Deployment("blue")])]


def _default_kv_acls() -> dict:
    return {
        "bypass": "AzureServices",
        "defaultAction": "Deny",
        "ipRules": [{"value": "124.56.78.91/32"}],
        "virtualNetworkRules": [],
    }


@dataclass
class WorkspaceScenario:
    # --- who and where
    subscription_id: str = "00000000-1111-2222-3333-444444444444"
    tenant_id: str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    resource_group: str = "rg-ml"
    workspace: str = "ws-prod"
    location: str = "eastus2"
    workspace_id: str = "11111111-2222-3333-4444-555555555555"
    net_resource_group: str = "rg-net"
    dns_resource_group: str = "rg-dns"
    dns_subscription_id: str | None = None  # the private DNS zones' subscription (None: the workspace's); fleets share one
    net_subscription_id: str | None = None  # the private endpoints' and VNet's (None: the workspace's); a hub's in fleets
    resources_group: str | None = None  # the Key Vault's, registry's, storage's and App Insights' (None: the workspace's)
    cloud: str = "AzureCloud"  # a key of CLOUD_NAMES: the names of hosts and zones
    api_zone_name: Any = AUTO  # the API zone the private endpoint registers in (AUTO: the cloud's; else a wrong one)

    # --- hubs and projects
    kind: str = "Default"  # the workspace's kind when it is no project (Default, Hub, FeatureStore)
    hub: str | None = None  # set: the workspace is a Project of this hub (same group), which holds its network
    hub_workspace_id: str = "99999999-8888-7777-6666-555555555555"

    # --- workspace properties
    creation_time: str | None = "2023-05-09T01:25:09.1390024Z"
    v1_legacy_mode: bool | None = False
    public_network_access: str = "Disabled"
    ip_allowlist: list[str] = field(default_factory=list)  # the workspace's selected IPs (with public access Enabled)
    key_vault: Any = AUTO  # raw properties.keyVault (AUTO: id with "Microsoft.Keyvault" casing)
    container_registry: Any = AUTO
    storage_account: Any = AUTO
    application_insights: Any = AUTO  # AUTO: id with "Microsoft.insights" casing
    image_build_compute: str | None = "cpu-cluster"  # None -> JSON null
    image_build_compute_exists: bool = True

    # --- managed network (current outbound method)
    isolation_mode: str | None = "AllowOnlyApprovedOutbound"  # "Disabled" = legacy; None = block absent
    managed_network_status: str | None = "Active"  # None = no status block
    rule_status_overrides: dict[str, str] = field(default_factory=dict)
    outbound_rules_shape: str = "value"  # "value" (stable) or "dict" (2022-12-01-preview)

    # --- the workspace's private endpoint and its DNS
    private_endpoint: bool = True
    pe_name: str = "pe-ws"
    pec_status: str = "Approved"
    pe_created_time: str = "2023-05-09T01:30:00.0000000Z"
    pe_workspace_ip: str = "10.0.1.4"
    pe_inference_ip: str = "10.0.1.5"
    pe_cert_ip: str = "10.0.1.6"
    pe_notebook_ip: str = "10.0.1.7"
    nic_guid: str = "6c0b3f0e-8d9a-4b1c-a2e3-f4d5c6b7a890"  # the NIC is named <pe>.nic.<guid>
    zone_group: bool = True
    zone_linked: bool = True
    vnet_link_state: str = "Completed"
    link_resolution_policy: str = "Default"  # NxDomainRedirect: a name the zone lacks is answered publicly
    inference_record_ip: Any = AUTO  # AUTO = pe_inference_ip; None = record absent (404)
    public_inference_ip: str = "20.44.17.190"  # what public DNS answers for the inference host

    # --- the client VNet
    vnet_name: str = "vnet-ml"
    subnet_name: str = "snet-pe"
    subnet_prefix: str = "10.0.1.0/24"
    clients_subnet_prefix: str = "10.0.2.0/24"
    vnet_address_prefixes: list[str] = field(default_factory=lambda: ["10.0.0.0/16"])
    dns_servers: list[str] = field(default_factory=list)  # [] = Azure DNS
    custom_dns_forwards: bool = True  # custom DNS has a conditional forwarder to 168.63.129.16

    # --- the private endpoint's subnet: its network policies, NSG (nsg-pe) and route table (rt-pe)
    pe_subnet_policies: str = "Disabled"  # privateEndpointNetworkPolicies: Enabled, NetworkSecurityGroupEnabled, ...
    pe_nsg: bool = True  # nsg-pe is attached to the subnet
    # custom rules of nsg-pe: (name, priority, access, source prefix, destination port range), all inbound TCP
    pe_nsg_rules: list[tuple[str, int, str, str, str]] = field(
        default_factory=lambda: [("allow-https-from-vnet", 200, "Allow", "VirtualNetwork", "443")])
    pe_route_table: bool = True  # rt-pe is attached to the subnet
    # routes of rt-pe: (name, address prefix, next hop type, next hop IP or None); 0.0.0.0/0 never overrides a PE's /32
    pe_routes: list[tuple[str, str, str, str | None]] = field(
        default_factory=lambda: [("default-to-firewall", "0.0.0.0/0", "VirtualAppliance", "10.0.0.4")])

    # --- client networks around it: application VNets, peerings, DNS Private Resolvers (armbed.clients)
    client_network: Any = None  # a clients.ClientNetwork; None: none (empty resolver and ruleset lists)

    # --- associated resources
    key_vault_name: str = "kv-ws-prod"
    registry_name: str = "acrwsprod"
    storage_name: str = "stwsprod"
    app_insights_name: str = "appi-ws-prod"
    kv_network_acls: dict | None = field(default_factory=_default_kv_acls)  # None = no firewall
    acr_sku: str = "Premium"
    acr_public_network_access: str = "Disabled"
    acr_default_action: str = "Deny"  # the registry firewall's networkRuleSet.defaultAction
    acr_private_endpoint: bool = True  # the registry has its own private endpoint connection (pe-acr)
    legacy_egress: str | None = None  # status of the registry's egress PEC; None = no such PEC
    # the storage account's network: publicNetworkAccess (None = key absent), its firewall, and its own private
    # endpoints (group id -> connection status; each served as pe-<storage>-<group> in the network resource group)
    storage_public_network_access: str | None = "Disabled"
    storage_default_action: str = "Deny"
    storage_bypass: str = "AzureServices"
    storage_resource_access_rules: list[str] = field(default_factory=list)  # resource ids let through the firewall
    storage_private_endpoints: dict[str, str] = field(default_factory=lambda: {"blob": "Approved", "file": "Approved"})

    # --- role-based access (endpoint.identity-roles, workspace.network-approver-role)
    role_assignments: Any = AUTO  # AUTO: bodies.healthy_role_assignments; else a list of assignment bodies
    custom_roles: list[dict] = field(default_factory=list)  # role definition bodies served at their ids
    role_assignments_page_size: int | None = 2  # the assignments list is paged (nextLink with $skiptoken)
    role_scopes: list[str] = field(default_factory=list)  # more scopes whose assignments can be listed
    kv_rbac: bool = True  # the vault's enableRbacAuthorization (False: access policies)
    kv_access_policies: list[dict] = field(default_factory=list)

    # --- online endpoints
    endpoints: list[Endpoint] = field(default_factory=_default_endpoints)
    endpoints_page_size: int | None = 10
    deployments_page_size: int | None = 10

    # --- workspace diagnose (POST .../diagnose, long-running)
    diagnose_results: dict[str, list] | None = None  # merged over the derived result arrays
    diagnose_polls: int = 1
    diagnose_never_completes: bool = False

    # --- ids ---------------------------------------------------------------------------------

    @property
    def _rg_ml(self) -> str:
        return f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"

    @property
    def _rg_net(self) -> str:
        return f"/subscriptions/{self.net_subscription_id or self.subscription_id}/resourceGroups/{self.net_resource_group}"

    @property
    def _rg_resources(self) -> str:
        return f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resources_group or self.resource_group}"

    @property
    def workspace_arm_id(self) -> str:
        return f"{self._rg_ml}/providers/{ML}/workspaces/{self.workspace}"

    @property
    def hub_arm_id(self) -> str:
        return f"{self._rg_ml}/providers/{ML}/workspaces/{self.hub}"

    @property
    def network_arm_id(self) -> str:
        """The workspace whose network (managed network, rules, private endpoint) it is: the hub of a project."""
        return self.hub_arm_id if self.hub else self.workspace_arm_id

    def operation_path(self, endpoint: str, deployment: str) -> str:
        """The status resource of a deployment's latest operation (`mfeOperationsStatus`, on the subscription)."""
        import uuid

        op = uuid.uuid5(uuid.NAMESPACE_URL, self.deployment_id(endpoint, deployment))
        return (f"/subscriptions/{self.subscription_id}/providers/{ML}/locations/{self.location}/mfeOperationsStatus/"
                f"od:{op}:{self.workspace_id}")

    @property
    def managed_network_id(self) -> str:
        return self.workspace_id

    @property
    def workspace_pec_name(self) -> str:
        return f"{self.workspace}.{self.pe_name}-{self.workspace_id[:4]}"

    def endpoint_id(self, endpoint: str) -> str:
        return f"{self.workspace_arm_id}/onlineEndpoints/{endpoint}"

    def deployment_id(self, endpoint: str, deployment: str) -> str:
        return f"{self.endpoint_id(endpoint)}/deployments/{deployment}"

    @property
    def key_vault_id(self) -> str:
        return f"{self._rg_resources}/providers/Microsoft.KeyVault/vaults/{self.key_vault_name}"

    @property
    def key_vault_id_as_referenced(self) -> str:
        """The vault id as the ML service writes it: `Microsoft.Keyvault` (real recordings)."""
        return f"{self._rg_resources}/providers/Microsoft.Keyvault/vaults/{self.key_vault_name}"

    @property
    def registry_id(self) -> str:
        return f"{self._rg_resources}/providers/Microsoft.ContainerRegistry/registries/{self.registry_name}"

    @property
    def storage_id(self) -> str:
        return f"{self._rg_resources}/providers/Microsoft.Storage/storageAccounts/{self.storage_name}"

    def storage_pe_id(self, group: str) -> str:
        return f"{self._rg_net}/providers/Microsoft.Network/privateEndpoints/pe-{self.storage_name}-{group}"

    @property
    def app_insights_id(self) -> str:
        return f"{self._rg_resources}/providers/microsoft.insights/components/{self.app_insights_name}"

    @property
    def compute_id(self) -> str:
        return f"{self.workspace_arm_id}/computes/{self.image_build_compute or 'cpu-cluster'}"

    @property
    def private_endpoint_id(self) -> str:
        return f"{self._rg_net}/providers/Microsoft.Network/privateEndpoints/{self.pe_name}"

    @property
    def nic_name(self) -> str:
        return f"{self.pe_name}.nic.{self.nic_guid}"

    @property
    def nic_id(self) -> str:
        return f"{self._rg_net}/providers/Microsoft.Network/networkInterfaces/{self.nic_name}"

    @property
    def vnet_id(self) -> str:
        return f"{self._rg_net}/providers/Microsoft.Network/virtualNetworks/{self.vnet_name}"

    @property
    def subnet_id(self) -> str:
        return f"{self.vnet_id}/subnets/{self.subnet_name}"

    @property
    def pe_nsg_id(self) -> str:
        return f"{self._rg_net}/providers/Microsoft.Network/networkSecurityGroups/nsg-pe"

    @property
    def pe_route_table_id(self) -> str:
        return f"{self._rg_net}/providers/Microsoft.Network/routeTables/rt-pe"

    @property
    def api_domain(self) -> str:
        return CLOUD_NAMES[self.cloud][0]

    @property
    def cloud_api_zone(self) -> str:
        """The zone Azure's public DNS sends the cloud's names to (`privatelink.<API domain>`)."""
        return f"privatelink.{self.api_domain}"

    @property
    def zone_api(self) -> str:
        """The API zone the private endpoint registers in (the cloud's, unless `api_zone_name` says otherwise)."""
        return self.cloud_api_zone if self.api_zone_name is AUTO else self.api_zone_name

    @property
    def zone_notebooks(self) -> str:
        return f"privatelink.{CLOUD_NAMES[self.cloud][1]}"

    def zone_id(self, zone_name: str | None = None) -> str:
        zone_name = zone_name or self.zone_api
        return (
            f"/subscriptions/{self.dns_subscription_id or self.subscription_id}/resourceGroups/{self.dns_resource_group}"
            f"/providers/Microsoft.Network/privateDnsZones/{zone_name}"
        )

    @property
    def inference_record_name(self) -> str:
        """The A record's name inside the zone: `*.<workspaceId>.inference.<region>`."""
        return f"*.{self.workspace_id}.inference.{self.location}"

    @property
    def inference_record_id(self) -> str:
        return f"{self.zone_id()}/A/{self.inference_record_name}"

    @property
    def notebook_fqdn(self) -> str:
        return f"ml-{self.workspace}-{self.location}-{self.workspace_id}.{self.location}.{CLOUD_NAMES[self.cloud][1]}"

    def scoring_host(self, endpoint: str) -> str:
        return f"{endpoint}.{self.location}.{CLOUD_NAMES[self.cloud][2]}"

    # --- derived values ----------------------------------------------------------------------

    def ref(self, knob: str) -> Any:
        """The workspace's raw reference for `knob` (AUTO resolved to the derived id)."""
        value = getattr(self, knob)
        if value is not AUTO:
            return value
        return {
            "key_vault": self.key_vault_id_as_referenced,
            "container_registry": self.registry_id,
            "storage_account": self.storage_id,
            "application_insights": self.app_insights_id,
        }[knob]

    @property
    def resolved_inference_record_ip(self) -> str | None:
        return self.pe_inference_ip if self.inference_record_ip is AUTO else self.inference_record_ip

    def pe_members(self) -> list[tuple[str, str, str]]:
        """(memberName, fqdn, ip) of the workspace private endpoint, as in customDnsConfigs."""
        w, loc = self.workspace_id, self.location
        return [
            ("default", f"{w}.workspace.{loc}.{self.api_domain}", self.pe_workspace_ip),
            ("cert", f"{w}.workspace.{loc}.cert.{self.api_domain}", self.pe_cert_ip),
            ("inference", f"*.{w}.inference.{loc}.{self.api_domain}", self.pe_inference_ip),
            ("notebook", self.notebook_fqdn, self.pe_notebook_ip),
        ]

    def zone_records(self) -> dict[str, dict[str, str]]:
        """zone name -> {A record name: ip}, what the PE's DNS integration created."""
        w, loc = self.workspace_id, self.location
        api = {f"{w}.workspace.{loc}": self.pe_workspace_ip, f"{w}.workspace.{loc}.cert": self.pe_cert_ip}
        if self.resolved_inference_record_ip is not None:
            api[self.inference_record_name] = self.resolved_inference_record_ip
        nb_name = self.notebook_fqdn[: -len(CLOUD_NAMES[self.cloud][1]) - 1]
        return {self.zone_api: api, self.zone_notebooks: {nb_name: self.pe_notebook_ip}}

    def replace(self, **changes: Any) -> WorkspaceScenario:
        return dataclasses.replace(self, **changes)

    # --- install -----------------------------------------------------------------------------

    def install(self, bed: Any) -> WorkspaceScenario:
        """Register every resource of the scenario on an ArmTestBed."""
        sub = f"/subscriptions/{self.subscription_id}"
        bed.put(sub, bodies.subscription(self))
        for rg in {self.resource_group, self.net_resource_group, self.dns_resource_group}:
            bed.put(f"{sub}/resourceGroups/{rg}", bodies.resource_group(self, rg))

        self._install_workspace(bed)
        self._install_endpoints(bed)
        if self.private_endpoint:
            self._install_network(bed)
        self._install_dns(bed)
        clients.install(self, bed, self.client_network)

        bed.put(self.key_vault_id, bodies.key_vault(self))
        bed.put(self.registry_id, bodies.container_registry(self))
        bed.collection(f"{self.registry_id}/privateEndpointConnections", bodies.registry_pecs(self))
        bed.put(self.storage_id, bodies.storage_account(self))
        for group in self.storage_private_endpoints:
            bed.put(self.storage_pe_id(group), bodies.storage_private_endpoint(self, group))
        bed.put(self.app_insights_id, bodies.application_insights(self))
        self._install_roles(bed)
        return self

    def _install_roles(self, bed: Any) -> None:
        """Role assignments listed at each resource (`$filter=atScope()` only: the assignments at the scope and
        above it, management groups and the root included), and the role definitions they name, served both with
        and without the `/subscriptions/<id>` prefix."""
        assignments = bodies.healthy_role_assignments(self) if self.role_assignments is AUTO else self.role_assignments
        scopes = [self.registry_id, self.storage_id, self.key_vault_id, self.workspace_arm_id, *self.role_scopes]
        for scope in scopes:
            bed.route("GET", f"{scope}/providers/Microsoft.Authorization/roleAssignments",
                      _role_assignments_handler(bed, scope, assignments, self.role_assignments_page_size))
        for guid, (name, description, permissions) in bodies.BUILTIN_ROLES.items():
            for prefix in ("", f"/subscriptions/{self.subscription_id}"):
                rid = f"{prefix}/providers/Microsoft.Authorization/roleDefinitions/{guid}"
                bed.put(rid, bodies.role_definition(rid, guid, name, description, permissions))
        for role in self.custom_roles:
            bed.put(role["id"], role)

    def _install_workspace(self, bed: Any) -> None:
        bed.put(self.workspace_arm_id, bodies.workspace(self))
        if self.hub:
            bed.put(self.hub_arm_id, bodies.hub_workspace(self))
        ws = self.network_arm_id  # the network lives on the hub of a project
        bed.collection(
            f"{ws}/privateEndpointConnections",
            [bodies.workspace_pec(self)] if self.private_endpoint else [],
        )
        if self.outbound_rules_shape == "dict":
            rules = bodies.outbound_rules(self)
            bed.put(f"{ws}/outboundRules", rules)
            bed.put(f"{ws}/managedNetwork/outboundRules", rules)  # the 2022-12-01-preview path
        else:
            bed.collection(f"{ws}/outboundRules", bodies.outbound_rules_list(self))
        if self.image_build_compute_exists:
            bed.put(self.compute_id, bodies.compute(self))
        bed.lro(
            f"{self.workspace_arm_id}/diagnose",
            bodies.diagnose_result(self),
            polls=self.diagnose_polls,
            never_completes=self.diagnose_never_completes,
        )

    def _install_endpoints(self, bed: Any) -> None:
        ws = self.workspace_arm_id
        bed.collection(
            f"{ws}/onlineEndpoints",
            [bodies.endpoint(self, e) for e in self.endpoints],
            page_size=self.endpoints_page_size,
        )
        for e in self.endpoints:
            bed.collection(
                f"{self.endpoint_id(e.name)}/deployments",
                [bodies.deployment(self, e, d) for d in e.deployments],
                page_size=self.deployments_page_size,
            )
            for d in e.deployments:
                bed.route("POST", f"{self.deployment_id(e.name, d.name)}/getLogs", _logs_handler(d))
                if d.operation_error is not None:
                    bed.put(self.operation_path(e.name, d.name), bodies.operation_status(self, e, d))

    def _install_network(self, bed: Any) -> None:
        bed.put(self.private_endpoint_id, bodies.private_endpoint(self))
        bed.collection(f"{self.private_endpoint_id}/privateDnsZoneGroups", bodies.zone_groups(self))
        bed.put(self.nic_id, bodies.network_interface(self))
        vnet = bodies.virtual_network(self)
        bed.put(self.vnet_id, vnet)
        bed.collection(f"{self.vnet_id}/subnets", vnet["properties"]["subnets"])
        bed.put(self.pe_nsg_id, bodies.network_security_group(self))
        bed.put(self.pe_route_table_id, bodies.route_table(self))
        items = [
            bodies.generic_resource(self.private_endpoint_id, "Microsoft.Network/privateEndpoints", self.location, self.pe_created_time),
            bodies.generic_resource(self.nic_id, "Microsoft.Network/networkInterfaces", self.location, self.pe_created_time),
            bodies.generic_resource(self.vnet_id, "Microsoft.Network/virtualNetworks", self.location, "2023-05-08T16:02:11.5512345Z"),
        ]
        bed.resources(self._rg_net, items)
        bed.resources(f"/subscriptions/{self.subscription_id}", items)

    def _install_dns(self, bed: Any) -> None:
        for zone_name, records in self.zone_records().items():
            zid = self.zone_id(zone_name)
            bed.put(zid, bodies.private_zone(self, zone_name))
            a_records = [bodies.a_record(self, zone_name, n, ip) for n, ip in records.items()]
            bed.collection(f"{zid}/A", a_records)
            bed.collection(f"{zid}/ALL", [bodies.soa_record(self, zone_name), *a_records])
            bed.collection(f"{zid}/virtualNetworkLinks", bodies.vnet_links(self, zone_name))

    # --- DNS view ----------------------------------------------------------------------------

    def dns_records(self, via: str = "vnet") -> dict[str, list[tuple[str, str]]]:
        """What a resolver answers: name -> [(type, value)]; names may be wildcards (`*.x`).

        via="vnet": the DNS the VNet uses (its custom servers when dns_servers is set);
        via="azure": Azure DNS (168.63.129.16) inside the VNet; via="public": the internet.
        A name missing from the dict is NXDOMAIN. The chain per endpoint is
        `<ep>.<region>.inference.ml.azure.com` CNAME `<ep>.<wsid>.inference.<region>.privatelink.api.azureml.ms`,
        answered by the zone's wildcard A record when the zone is linked (linked but record
        missing = NXDOMAIN, as Azure DNS does for a linked zone), else by public DNS.
        """
        if via not in ("vnet", "azure", "public"):
            raise ValueError(f"via must be vnet, azure or public, not {via!r}")
        private = via == "azure" or (via == "vnet" and (not self.dns_servers or self.custom_dns_forwards))
        private = private and self.zone_linked and self.vnet_link_state == "Completed"
        private = private and self.zone_api == self.cloud_api_zone  # a zone of another name answers nothing here
        w, loc, zone_api = self.workspace_id, self.location, self.cloud_api_zone
        records: dict[str, list[tuple[str, str]]] = {}
        for e in self.endpoints:
            records[self.scoring_host(e.name)] = [("CNAME", f"{e.name}.{w}.inference.{loc}.{zone_api}")]
        records[f"{w}.workspace.{loc}.{self.api_domain}"] = [("CNAME", f"{w}.workspace.{loc}.{zone_api}")]
        wildcard = f"*.{w}.inference.{loc}.{zone_api}"
        api_host = f"{w}.workspace.{loc}.{zone_api}"
        if not private:
            records[wildcard] = [("A", self.public_inference_ip)]
            records[api_host] = [("A", self.public_inference_ip)]
            return records
        zone = self.zone_records()[self.zone_api]
        if self.inference_record_name in zone:
            records[wildcard] = [("A", zone[self.inference_record_name])]
        records[api_host] = [("A", zone[f"{w}.workspace.{loc}"])]
        return records


def _applies_at(assignment_scope: str, scope: str) -> bool:
    """An assignment at `assignment_scope` applies at `scope`: the same scope or one above it (management groups
    and the root hold every subscription of these scenarios)."""
    a, s = assignment_scope.rstrip("/").lower(), scope.rstrip("/").lower()
    return a in ("", "/") or a.startswith("/providers/microsoft.management/managementgroups/") or s == a or \
        s.startswith(a + "/")


def _role_assignments_handler(bed: Any, scope: str, assignments: list[dict], page_size: int | None):
    """GET {scope}/providers/Microsoft.Authorization/roleAssignments?$filter=atScope(), paged like ARM."""
    from urllib.parse import urlencode

    from . import arm

    def handle(request) -> tuple[int, dict, Any]:
        flt = (request.param("$filter") or "").replace(" ", "")
        if flt.lower() != "atscope()":
            return 400, {}, arm.error_body("UnsupportedQuery", f"the test bed lists role assignments only with "
                                                               f"$filter=atScope(), not {flt!r}")
        found = [a for a in assignments if _applies_at(str(a.get("properties", {}).get("scope", "")), scope)]
        start = int(request.param("$skipToken") or 0)
        if not page_size:
            return 200, {}, {"value": found}
        body: dict[str, Any] = {"value": found[start : start + page_size]}
        if start + page_size < len(found):
            query = {k: v for k, v in request.query.items() if k.lower() != "$skiptoken"}
            query["$skipToken"] = str(start + page_size)
            body["nextLink"] = f"{bed.url}{request.path}?{urlencode(query, safe='$()')}"
        return 200, {}, body

    return handle


def _logs_handler(d: Deployment):
    """POST .../getLogs: `{"containerType": ..., "tail": N}` -> `{"content": text}` (last N lines)."""

    def handle(request) -> tuple[int, dict, Any]:
        body = request.json or {}
        wanted = str(body.get("containerType", "InferenceServer")).lower()
        text = next((t for k, t in d.logs.items() if k.lower() == wanted), "")
        tail = body.get("tail") or 0
        if isinstance(tail, int) and tail > 0:
            lines = text.splitlines(keepends=True)
            text = "".join(lines[-tail:])
        return 200, {}, {"content": text}

    return handle


# --- presets ------------------------------------------------------------------------------------


def healthy(**overrides: Any) -> WorkspaceScenario:
    """Everything passes: current outbound method, private DNS in place, one endpoint at 100%."""
    return WorkspaceScenario(**overrides)


def broken(**overrides: Any) -> WorkspaceScenario:
    """The runbook's classic failures at once (legacy outbound method, so the egress PEC matters):

    v1LegacyMode true; Key Vault bypass "None"; workspace PE created 2021-12-01 (before the
    2022-05-24 cut-off); deployment `blue` uses legacy egress (egressPublicNetworkAccess Disabled)
    but the registry's egress PEC is Pending; no `*.<wsid>.inference.<region>` A record;
    traffic sends 50% to `green`, which no longer exists.
    """
    acls = _default_kv_acls()
    acls["bypass"] = "None"
    settings: dict[str, Any] = dict(
        v1_legacy_mode=True,
        creation_time="2021-11-30T09:12:44.2210567Z",
        pe_created_time="2021-12-01T08:00:00.0000000Z",
        kv_network_acls=acls,
        isolation_mode="Disabled",
        managed_network_status=None,
        legacy_egress="Pending",
        inference_record_ip=None,
        endpoints=[
            Endpoint(
                "ep-main",
                traffic={"blue": 50, "green": 50},
                deployments=[Deployment("blue", egress_public_network_access="Disabled")],
            )
        ],
    )
    settings.update(overrides)
    return WorkspaceScenario(**settings)


def legacy_egress(**overrides: Any) -> WorkspaceScenario:
    """Healthy with the legacy outbound method: no managed VNet, per-deployment egress, PEC Approved."""
    settings: dict[str, Any] = dict(
        isolation_mode="Disabled",
        managed_network_status=None,
        legacy_egress="Approved",
        endpoints=[
            Endpoint("ep-main", traffic={"blue": 100}, deployments=[Deployment("blue", egress_public_network_access="Disabled")])
        ],
    )
    settings.update(overrides)
    return WorkspaceScenario(**settings)


def us_government(**overrides: Any) -> WorkspaceScenario:
    """Healthy, in Azure US Government (US Gov Virginia): its zones and scoring hosts."""
    return WorkspaceScenario(**{"cloud": "AzureUSGovernment", "location": "usgovvirginia", **overrides})


def china(**overrides: Any) -> WorkspaceScenario:
    """Healthy, in Azure operated by 21Vianet (China East 2): its zones and scoring hosts."""
    return WorkspaceScenario(**{"cloud": "AzureChinaCloud", "location": "chinaeast2", **overrides})


def custom_dns(forwards: bool = True, **overrides: Any) -> WorkspaceScenario:
    """The VNet uses a custom DNS server (10.0.0.10); `forwards=False` breaks its forwarder."""
    settings: dict[str, Any] = dict(dns_servers=["10.0.0.10"], custom_dns_forwards=forwards)
    settings.update(overrides)
    return WorkspaceScenario(**settings)


def many_endpoints(count: int = 25, deployments_each: int = 2, **overrides: Any) -> WorkspaceScenario:
    """Enough endpoints and deployments that every list is paged (benchmarks, paging tests)."""
    endpoints = []
    for i in range(count):
        deps = [Deployment(f"d{j}") for j in range(deployments_each)]
        endpoints.append(Endpoint(f"ep-{i:03d}", traffic={"d0": 100}, deployments=deps))
    settings: dict[str, Any] = dict(endpoints=endpoints, deployments_page_size=1)
    settings.update(overrides)
    return WorkspaceScenario(**settings)


IMPORT_ERROR_INFERENCE_LOG = """\
2024-02-12 09:31:38,902 I [1] gunicorn.error - Starting gunicorn 22.0.0
2024-02-12 09:31:38,903 I [1] gunicorn.error - Listening at: http://0.0.0.0:31311 (1)
2024-02-12 09:31:38,905 I [42] gunicorn.error - Booting worker with pid: 42
2024-02-12 09:31:40,112 E [42] azmlinfsrv - Traceback (most recent call last):
  File "/var/azureml-app/onlinescoring/score.py", line 4, in <module>
    import lightgbm
ModuleNotFoundError: No module named 'lightgbm'
2024-02-12 09:31:40,118 I [42] gunicorn.error - Worker exiting (pid: 42)
2024-02-12 09:31:40,331 E [1] gunicorn.error - Worker (pid:42) exited with code 3
2024-02-12 09:31:40,332 E [1] gunicorn.error - Shutting down: Master
2024-02-12 09:31:40,332 E [1] gunicorn.error - Reason: Worker failed to boot.
"""


def many_states(**overrides: Any) -> WorkspaceScenario:
    """One endpoint per classic endpoint/deployment state (the endpoint checks' acceptance workspace):

    ep-healthy: blue at 100%, Succeeded. ep-deleted: 50% to green, which no longer exists. ep-zero: every
    share 0. ep-failed: blue Failed, its inference log ends in `ModuleNotFoundError: No module named
    'lightgbm'`. ep-updating: the endpoint and its deployment blue are Updating.
    """
    failed_logs = {"InferenceServer": IMPORT_ERROR_INFERENCE_LOG, "StorageInitializer": HEALTHY_STORAGE_INIT_LOG}
    settings: dict[str, Any] = dict(
        endpoints=[
            Endpoint("ep-healthy", traffic={"blue": 100}, deployments=[Deployment("blue")]),
            Endpoint("ep-deleted", traffic={"blue": 50, "green": 50}, deployments=[Deployment("blue")]),
            Endpoint("ep-zero", traffic={"blue": 0}, deployments=[Deployment("blue")]),
            Endpoint("ep-failed", traffic={"blue": 100},
                     deployments=[Deployment("blue", provisioning_state="Failed", logs=failed_logs)]),
            Endpoint("ep-updating", traffic={"blue": 100}, provisioning_state="Updating",
                     deployments=[Deployment("blue", provisioning_state="Updating")]),
        ],
        endpoints_page_size=2,
        deployments_page_size=1,
    )
    settings.update(overrides)
    return WorkspaceScenario(**settings)
