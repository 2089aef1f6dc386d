"""REST bodies of a network-isolated Azure ML workspace, shaped like real ARM responses.

Each function takes a `WorkspaceScenario` and returns one JSON body (or a list of items). Shapes
follow the official REST examples and SDK recordings (see ../shared/arm-examples/README.md),
including the quirks a parser must survive: `Microsoft.Keyvault` / `Microsoft.insights` casing in
the workspace's references, `systemData`, `etag`s, trailing dots on DNS fqdns, a dict-shaped
outbound rule list in older previews. The values are this project's own, not copied data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .scenarios import Deployment, Endpoint, WorkspaceScenario

ML = "Microsoft.MachineLearningServices"
EGRESS_DESCRIPTION = "Egress for Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
# A subscription Azure ML owns for per-deployment managed VNets (legacy egress method).
AML_MANAGED_SUBSCRIPTION = "9f1d2c3b-4a5e-4f60-8a71-b2c3d4e5f607"


def system_data(created: str, modified: str | None = None, by: str = "ops@contoso.com") -> dict:
    return {
        "createdAt": created,
        "createdBy": by,
        "createdByType": "User",
        "lastModifiedAt": modified or created,
        "lastModifiedBy": by,
        "lastModifiedByType": "User",
    }


def etag(seed: str) -> str:
    """A stable, realistic-looking weak etag."""
    import hashlib

    digest = hashlib.sha1(seed.encode()).hexdigest()
    return f'W/"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"'


# --- subscription and resource groups ------------------------------------------------------------


def subscription(s: WorkspaceScenario) -> dict:
    return {
        "id": f"/subscriptions/{s.subscription_id}",
        "authorizationSource": "RoleBased",
        "managedByTenants": [],
        "subscriptionId": s.subscription_id,
        "tenantId": s.tenant_id,
        "displayName": "ml-production",
        "state": "Enabled",
        "subscriptionPolicies": {
            "locationPlacementId": "Public_2014-09-01",
            "quotaId": "EnterpriseAgreement_2014-09-01",
            "spendingLimit": "Off",
        },
    }


def resource_group(s: WorkspaceScenario, name: str) -> dict:
    return {
        "id": f"/subscriptions/{s.subscription_id}/resourceGroups/{name}",
        "name": name,
        "type": "Microsoft.Resources/resourceGroups",
        "location": s.location,
        "properties": {"provisioningState": "Succeeded"},
    }


# --- the workspace ---------------------------------------------------------------------------------


def outbound_rules(s: WorkspaceScenario) -> dict[str, dict]:
    """Rule name -> rule properties (the dict form; the stable API wraps each as a resource)."""
    if s.isolation_mode in (None, "Disabled"):
        return {}
    rules: dict[str, dict] = {}

    def pe_rule(target_id: str, subresource: str) -> dict:
        return {
            "type": "PrivateEndpoint",
            "destination": {
                "serviceResourceId": target_id,
                "subresourceTarget": subresource,
                "sparkEnabled": False,
                "sparkStatus": "Inactive",
            },
            "status": "Active",
            "category": "Required",
        }

    rules[f"__SYS_PE_{s.registry_name}_registry"] = pe_rule(s.registry_id, "registry")
    # The service writes the vault reference with "Microsoft.Keyvault" casing (seen in recordings).
    rules[f"__SYS_PE_{s.key_vault_name}_vault"] = pe_rule(s.key_vault_id_as_referenced, "vault")
    rules[f"__SYS_PE_{s.storage_name}_blob"] = pe_rule(s.storage_id, "blob")
    rules[f"__SYS_PE_{s.storage_name}_file"] = pe_rule(s.storage_id, "file")
    rules["__SYS_ST_AzureActiveDirectory"] = {
        "type": "ServiceTag",
        "destination": {"serviceTag": "AzureActiveDirectory", "protocol": "*", "portRanges": "*"},
        "status": "Active",
        "category": "Required",
    }
    for name, status in s.rule_status_overrides.items():
        if name in rules:
            rules[name]["status"] = status
    return rules


def outbound_rules_list(s: WorkspaceScenario) -> list[dict]:
    """The stable `{"value": [...]}` items (type spelled `workspace/outboundRules` as in the spec example)."""
    items = []
    for name, props in outbound_rules(s).items():
        props = dict(props)
        if props["status"] != "Active":
            props["errorInformation"] = "The outbound rule has not been provisioned."
        items.append(
            {
                "id": f"{s.network_arm_id}/outboundRules/{name}",
                "name": name,
                "type": "workspace/outboundRules",
                "properties": props,
            }
        )
    return items


def managed_network(s: WorkspaceScenario) -> dict | None:
    if s.isolation_mode is None:
        return None
    if s.isolation_mode == "Disabled":
        block: dict[str, Any] = {
            "changeableIsolationModes": ["AllowInternetOutbound", "AllowOnlyApprovedOutbound"],
            "isolationMode": "Disabled",
            "enableNetworkMonitor": False,
            "enableFirewallLog": False,
        }
    else:
        block = {
            "isolationMode": s.isolation_mode,
            "networkId": s.managed_network_id,
            "outboundRules": outbound_rules(s),
        }
    if s.managed_network_status is not None:
        block["status"] = {"status": s.managed_network_status, "sparkReady": False}
    return block


def workspace_pec(s: WorkspaceScenario) -> dict:
    return {
        "id": f"{s.network_arm_id}/privateEndpointConnections/{s.workspace_pec_name}",
        "name": s.workspace_pec_name,
        "type": f"{ML}/workspaces/privateEndpointConnections",
        "location": s.location,
        "properties": {
            "privateEndpoint": {"id": s.private_endpoint_id, "subnetArmId": s.subnet_id},
            "privateLinkServiceConnectionState": {
                "status": s.pec_status,
                "description": "Auto-Approved" if s.pec_status == "Approved" else "Awaiting approval",
                "actionsRequired": "None",
            },
            "provisioningState": "Succeeded",
        },
    }


def hub_workspace(s: WorkspaceScenario) -> dict:
    """The hub of a project scenario: it holds the managed network, the outbound rules and the private endpoint."""
    body = workspace(s, role="hub")
    body["properties"]["associatedWorkspaces"] = [s.workspace_arm_id]
    return body


def workspace(s: WorkspaceScenario, role: str = "self") -> dict:
    """The workspace's body. `role`: "self" (a workspace of `s.kind`, its own network), "hub" (the hub of a project
    scenario), or, when the scenario names a hub, the project itself: no managed network status, no private endpoint
    connections (its network is the hub's), and `hubResourceId`."""
    project = role == "self" and s.hub is not None
    props: dict[str, Any] = {
        "friendlyName": s.workspace,
        "description": "",
        "storageAccount": s.ref("storage_account"),
        "keyVault": s.ref("key_vault"),
        "applicationInsights": s.ref("application_insights"),
        "hbiWorkspace": False,
        "tenantId": s.tenant_id,
        "imageBuildCompute": s.image_build_compute,
        "provisioningState": "Succeeded",
    }
    block = managed_network(s)
    if block is not None and project:  # a project shows its hub's isolation mode, never its status or rules
        block = {"isolationMode": block["isolationMode"]}
    if block is not None:
        props["managedNetwork"] = block
    if project:
        props["hubResourceId"] = s.hub_arm_id
    props["allowRoleAssignmentOnRG"] = True
    if s.v1_legacy_mode is not None:
        props["v1LegacyMode"] = s.v1_legacy_mode
    props["softDeleteEnabled"] = False
    props["containerRegistry"] = s.ref("container_registry")
    if s.creation_time is not None:
        props["creationTime"] = s.creation_time
    props.update(
        {
            "notebookInfo": {
                "resourceId": "5d3c2b1a09f84e7d8c6b5a4f3e2d1c0b",
                "fqdn": s.notebook_fqdn,
                "isPrivateLinkEnabled": True,
                "notebookPreparationError": None,
            },
            "storageHnsEnabled": False,
            "workspaceId": s.hub_workspace_id if role == "hub" else s.workspace_id,
            "linkedModelInventoryArmId": None,
            "privateLinkCount": 1 if s.private_endpoint and not project else 0,
            "publicNetworkAccess": s.public_network_access,
            "allowPublicAccessWhenBehindVnet": False,
            "ipAllowlist": list(s.ip_allowlist),
            "privateEndpointConnections": [workspace_pec(s)] if s.private_endpoint and not project else [],
            "discoveryUrl": f"https://{s.location}.{s.api_domain}/discovery",
            "mlFlowTrackingUri": f"azureml://{s.location}.{s.api_domain}/mlflow/v1.0{s.workspace_arm_id}",
            "enableDataIsolation": False,
            "systemDatastoresAuthMode": "accesskey",
        }
    )
    created = s.creation_time or "2023-05-09T01:25:09.1390024Z"
    kind = "Hub" if role == "hub" else "Project" if project else s.kind
    return {
        "id": s.hub_arm_id if role == "hub" else s.workspace_arm_id,
        "name": s.hub if role == "hub" else s.workspace,
        "type": f"{ML}/workspaces",
        "location": s.location,
        "tags": {},
        "etag": None,
        "properties": props,
        "identity": {"type": "SystemAssigned", "principalId": "6b2f6c1e-3d4a-4b5c-9d8e-7f6a5b4c3d2e", "tenantId": s.tenant_id},
        "kind": kind,
        "sku": {"name": "Basic", "tier": "Basic"},
        "systemData": system_data(created),
    }


def compute(s: WorkspaceScenario) -> dict:
    name = s.image_build_compute or "cpu-cluster"
    return {
        "id": f"{s.workspace_arm_id}/computes/{name}",
        "name": name,
        "type": f"{ML}/workspaces/computes",
        "location": s.location,
        "tags": {},
        "properties": {
            "computeType": "AmlCompute",
            "computeLocation": s.location,
            "provisioningState": "Succeeded",
            "disableLocalAuth": True,
            "properties": {
                "vmSize": "STANDARD_DS3_V2",
                "vmPriority": "Dedicated",
                "scaleSettings": {"maxNodeCount": 4, "minNodeCount": 0, "nodeIdleTimeBeforeScaleDown": "PT2M"},
                "enableNodePublicIp": False,
                "allocationState": "Steady",
                "currentNodeCount": 0,
                "targetNodeCount": 0,
            },
        },
        "systemData": system_data("2023-05-09T02:00:00.0000000Z"),
    }


def diagnose_result(s: WorkspaceScenario) -> dict:
    value: dict[str, list] = {
        "userDefinedRouteResults": [],
        "networkSecurityRuleResults": [],
        "resourceLockResults": [],
        "dnsResolutionResults": [],
        "storageAccountResults": [],
        "keyVaultResults": [],
        "containerRegistryResults": [],
        "applicationInsightsResults": [],
        "otherResults": [],
    }
    if s.dns_servers:
        value["dnsResolutionResults"].append(
            {
                "code": "CustomDNSInUse",
                "level": "Warning",
                "message": "We have detected an on-premise dns server is configured. Please make sure "
                "conditional forwarding is configured correctly according to doc "
                "https://go.microsoft.com/fwlink/?linkid=2160846",
            }
        )
    if s.diagnose_results is not None:
        value.update(s.diagnose_results)
    return {"value": value}


# --- online endpoints ---------------------------------------------------------------------------


def endpoint(s: WorkspaceScenario, e: Endpoint) -> dict:
    ep_id = s.endpoint_id(e.name)
    return {
        "id": ep_id,
        "name": e.name,
        "type": f"{ML}/workspaces/onlineEndpoints",
        "properties": {
            "description": None,
            "properties": {"azureml.onlineendpointid": ep_id.lower()},
            "scoringUri": f"https://{s.scoring_host(e.name)}/score",
            "swaggerUri": f"https://{s.scoring_host(e.name)}/swagger.json",
            "authMode": e.auth_mode,
            "provisioningState": e.provisioning_state,
            "compute": None,
            "traffic": dict(e.traffic),
            "mirrorTraffic": dict(e.mirror_traffic),
            "publicNetworkAccess": e.public_network_access,
        },
        "systemData": system_data("2024-02-12T09:14:54.2541612Z", "2024-02-12T09:26:50.0729650Z"),
        "tags": {},
        "location": s.location,
        "kind": "Managed",
        "identity": e.identity if e.identity is not None else
        {"type": "SystemAssigned", "principalId": ENDPOINT_PRINCIPAL, "tenantId": s.tenant_id},
    }


def deployment(s: WorkspaceScenario, e: Endpoint, d: Deployment) -> dict:
    ws = s.workspace_arm_id
    props: dict[str, Any] = {
        "description": None,
        "properties": {},
        "codeConfiguration": {"codeId": f"{ws}/codes/8d1f4c2e-7b3a-4e59-a6c0-2f9e8d7c6b5a/versions/1", "scoringScript": "score.py"},
        "environmentId": f"{ws}/environments/sklearn-inference/versions/3",
        "environmentVariables": {},
        "scaleSettings": {"scaleType": "Default"},
        "requestSettings": {"maxQueueWait": "PT0.5S", "requestTimeout": "PT5S", "maxConcurrentRequestsPerInstance": 1},
        "modelMountPath": None,
        "appInsightsEnabled": False,
        "livenessProbe": {"failureThreshold": 30, "successThreshold": 1, "timeout": "PT2S", "period": "PT10S", "initialDelay": "PT10S"},
        "readinessProbe": {"failureThreshold": 30, "successThreshold": 1, "timeout": "PT2S", "period": "PT10S", "initialDelay": "PT10S"},
        "provisioningState": d.provisioning_state,
        "instanceType": d.instance_type,
        "model": f"{ws}/models/churn-model/versions/1",
        "endpointComputeType": "Managed",
    }
    if d.egress_public_network_access is not None:
        props["egressPublicNetworkAccess"] = d.egress_public_network_access
    if d.operation_error is not None:  # the latest operation's status resource, as azure-ai-ml's recordings show it
        props["properties"]["AzureAsyncOperationUri"] = f"https://management.azure.com{s.operation_path(e.name, d.name)}" \
                                                        "?api-version=2025-12-01"
    return {
        "id": s.deployment_id(e.name, d.name),
        "name": d.name,
        "type": f"{ML}/workspaces/onlineEndpoints/deployments",
        "properties": props,
        "systemData": system_data("2024-02-12T09:16:36.7099402Z"),
        "tags": {},
        "location": s.location,
        "kind": "Managed",
        "sku": {"name": "Default", "tier": "Standard", "capacity": d.instance_count},
    }


# --- network ------------------------------------------------------------------------------------


def private_endpoint(s: WorkspaceScenario) -> dict:
    ip_configs = [
        {
            "name": f"{s.pe_name}-{member}",
            "properties": {"groupId": "amlworkspace", "memberName": member, "privateIPAddress": ip},
        }
        for member, _fqdn, ip in s.pe_members()
    ]
    return {
        "name": s.pe_name,
        "id": s.private_endpoint_id,
        "etag": etag(s.private_endpoint_id),
        "type": "Microsoft.Network/privateEndpoints",
        "location": s.location,
        "tags": {},
        "properties": {
            "provisioningState": "Succeeded",
            "resourceGuid": "3f2e1d0c-9b8a-4765-8432-10fedcba9876",
            "privateLinkServiceConnections": [
                {
                    "name": f"{s.pe_name}-connection",
                    "id": f"{s.private_endpoint_id}/privateLinkServiceConnections/{s.pe_name}-connection",
                    "etag": etag(s.private_endpoint_id + "/pls"),
                    "type": "Microsoft.Network/privateEndpoints/privateLinkServiceConnections",
                    "properties": {
                        "provisioningState": "Succeeded",
                        "privateLinkServiceId": s.network_arm_id,
                        "groupIds": ["amlworkspace"],
                        "privateLinkServiceConnectionState": {
                            "status": s.pec_status,
                            "description": "Auto-Approved" if s.pec_status == "Approved" else "Awaiting approval",
                            "actionsRequired": "None",
                        },
                    },
                }
            ],
            "manualPrivateLinkServiceConnections": [],
            "customNetworkInterfaceName": "",
            "subnet": {"id": s.subnet_id},
            "ipConfigurations": ip_configs,
            "networkInterfaces": [{"id": s.nic_id}],
            "customDnsConfigs": [{"fqdn": fqdn, "ipAddresses": [ip]} for _m, fqdn, ip in s.pe_members()],
            "applicationSecurityGroups": [],
            "isIPv6EnabledPrivateEndpoint": False,
        },
    }


def zone_groups(s: WorkspaceScenario) -> list[dict]:
    if not s.zone_group:
        return []
    gid = f"{s.private_endpoint_id}/privateDnsZoneGroups/default"
    configs = []
    for zone_name, records in s.zone_records().items():
        configs.append(
            {
                "name": zone_name.replace(".", "-"),
                "properties": {
                    "privateDnsZoneId": s.zone_id(zone_name),
                    "recordSets": [
                        {
                            "recordType": "A",
                            "recordSetName": name,
                            "fqdn": f"{name}.{zone_name}",
                            "ttl": 10,
                            "ipAddresses": [ip],
                            "provisioningState": "Succeeded",
                        }
                        for name, ip in records.items()
                    ],
                },
            }
        )
    return [
        {
            "name": "default",
            "id": gid,
            "etag": etag(gid),
            "type": "Microsoft.Network/privateEndpoints/privateDnsZoneGroups",
            "properties": {"provisioningState": "Succeeded", "privateDnsZoneConfigs": configs},
        }
    ]


def network_interface(s: WorkspaceScenario) -> dict:
    configs = []
    for i, (member, fqdn, ip) in enumerate(s.pe_members()):
        name = f"privateEndpointIpConfig.{member}-{s.nic_guid[:8]}"
        configs.append(
            {
                "name": name,
                "id": f"{s.nic_id}/ipConfigurations/{name}",
                "etag": etag(f"{s.nic_id}/{name}"),
                "type": "Microsoft.Network/networkInterfaces/ipConfigurations",
                "properties": {
                    "provisioningState": "Succeeded",
                    "privateIPAddress": ip,
                    "privateIPAllocationMethod": "Dynamic",
                    "subnet": {"id": s.subnet_id},
                    "primary": i == 0,
                    "privateIPAddressVersion": "IPv4",
                    "privateLinkConnectionProperties": {
                        "groupId": "amlworkspace",
                        "requiredMemberName": member,
                        "fqdns": [fqdn],
                    },
                },
            }
        )
    return {
        "name": s.nic_name,
        "id": s.nic_id,
        "etag": etag(s.nic_id),
        "type": "Microsoft.Network/networkInterfaces",
        "location": s.location,
        "kind": "Regular",
        "properties": {
            "provisioningState": "Succeeded",
            "resourceGuid": "7a6b5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d",
            "ipConfigurations": configs,
            "dnsSettings": {"dnsServers": [], "appliedDnsServers": []},
            "macAddress": "",
            "vnetEncryptionSupported": False,
            "enableIPForwarding": False,
            "disableTcpStateTracking": False,
            "primary": True,
            "privateEndpoint": {"id": s.private_endpoint_id},
            "hostedWorkloads": [],
            "tapConfigurations": [],
            "nicType": "Standard",
            "allowPort25Out": False,
            "auxiliaryMode": "None",
            "auxiliarySku": "None",
        },
    }


def subnet(s: WorkspaceScenario, name: str, prefix: str, with_pe: bool) -> dict:
    sid = f"{s.vnet_id}/subnets/{name}"
    props: dict[str, Any] = {
        "provisioningState": "Succeeded",
        "addressPrefix": prefix,
        "delegations": [],
        "privateEndpointNetworkPolicies": s.pe_subnet_policies if with_pe else "Disabled",
        "privateLinkServiceNetworkPolicies": "Enabled",
    }
    if with_pe and s.private_endpoint:
        props["privateEndpoints"] = [{"id": s.private_endpoint_id}]
    if with_pe and s.pe_nsg:
        props["networkSecurityGroup"] = {"id": s.pe_nsg_id}
    if with_pe and s.pe_route_table:
        props["routeTable"] = {"id": s.pe_route_table_id}
    return {"name": name, "id": sid, "etag": etag(sid), "type": "Microsoft.Network/virtualNetworks/subnets", "properties": props}


def security_rule(nsg_id: str, name: str, priority: int, access: str, source: str, ports: str, *,
                  protocol: str = "Tcp", destination: str = "*", kind: str = "securityRules") -> dict:
    """An inbound NSG rule as Network's REST API returns it (a custom rule, or one of `defaultSecurityRules`)."""
    rid = f"{nsg_id}/{kind}/{name}"
    return {"name": name, "id": rid, "etag": etag(rid), "type": f"Microsoft.Network/networkSecurityGroups/{kind}",
            "properties": {"provisioningState": "Succeeded", "protocol": protocol, "sourcePortRange": "*",
                           "destinationPortRange": ports, "sourceAddressPrefix": source, "sourceAddressPrefixes": [],
                           "destinationAddressPrefix": destination, "destinationAddressPrefixes": [],
                           "sourcePortRanges": [], "destinationPortRanges": [], "access": access,
                           "priority": priority, "direction": "Inbound"}}


def network_security_group(s: WorkspaceScenario) -> dict:
    """nsg-pe: the scenario's custom rules, and the default rules every NSG has."""
    nid = s.pe_nsg_id
    defaults = [security_rule(nid, "AllowVnetInBound", 65000, "Allow", "VirtualNetwork", "*", protocol="*",
                              destination="VirtualNetwork", kind="defaultSecurityRules"),
                security_rule(nid, "AllowAzureLoadBalancerInBound", 65001, "Allow", "AzureLoadBalancer", "*",
                              protocol="*", kind="defaultSecurityRules"),
                security_rule(nid, "DenyAllInBound", 65500, "Deny", "*", "*", protocol="*", kind="defaultSecurityRules")]
    return {"name": "nsg-pe", "id": nid, "etag": etag(nid), "type": "Microsoft.Network/networkSecurityGroups",
            "location": s.location, "tags": {},
            "properties": {"provisioningState": "Succeeded", "resourceGuid": "2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a",
                           "securityRules": [security_rule(nid, *rule) for rule in s.pe_nsg_rules],
                           "defaultSecurityRules": defaults,
                           "subnets": [{"id": s.subnet_id}] if s.pe_nsg else []}}


def route_table(s: WorkspaceScenario) -> dict:
    """rt-pe: the scenario's user-defined routes."""
    tid = s.pe_route_table_id
    routes = []
    for name, prefix, hop, hop_ip in s.pe_routes:
        props: dict[str, Any] = {"provisioningState": "Succeeded", "addressPrefix": prefix, "nextHopType": hop,
                                 "hasBgpOverride": False}
        if hop_ip:
            props["nextHopIpAddress"] = hop_ip
        routes.append({"name": name, "id": f"{tid}/routes/{name}", "etag": etag(f"{tid}/routes/{name}"),
                       "type": "Microsoft.Network/routeTables/routes", "properties": props})
    return {"name": "rt-pe", "id": tid, "etag": etag(tid), "type": "Microsoft.Network/routeTables",
            "location": s.location, "tags": {},
            "properties": {"provisioningState": "Succeeded", "resourceGuid": "3e4f5a6b-7c8d-4e9f-0a1b-2c3d4e5f6a7b",
                           "disableBgpRoutePropagation": False, "routes": routes,
                           "subnets": [{"id": s.subnet_id}] if s.pe_route_table else []}}


def virtual_network(s: WorkspaceScenario) -> dict:
    return {
        "name": s.vnet_name,
        "id": s.vnet_id,
        "etag": etag(s.vnet_id),
        "type": "Microsoft.Network/virtualNetworks",
        "location": s.location,
        "tags": {},
        "properties": {
            "provisioningState": "Succeeded",
            "resourceGuid": "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
            "addressSpace": {"addressPrefixes": list(s.vnet_address_prefixes)},
            "dhcpOptions": {"dnsServers": list(s.dns_servers)},
            "subnets": [
                subnet(s, s.subnet_name, s.subnet_prefix, with_pe=True),
                subnet(s, "snet-clients", s.clients_subnet_prefix, with_pe=False),
            ],
            "virtualNetworkPeerings": [],
            "enableDdosProtection": False,
        },
    }


# --- private DNS --------------------------------------------------------------------------------


def private_zone(s: WorkspaceScenario, zone_name: str) -> dict:
    zid = s.zone_id(zone_name)
    return {
        "id": zid,
        "name": zone_name,
        "type": "Microsoft.Network/privateDnsZones",
        "etag": etag(zid),
        "location": "global",
        "tags": {},
        "properties": {
            "maxNumberOfRecordSets": 25000,
            "numberOfRecordSets": 1 + len(s.zone_records()[zone_name]),  # + the SOA record
            "maxNumberOfVirtualNetworkLinks": 1000,
            "numberOfVirtualNetworkLinks": 1 if s.zone_linked else 0,
            "maxNumberOfVirtualNetworkLinksWithRegistration": 100,
            "numberOfVirtualNetworkLinksWithRegistration": 0,
            "provisioningState": "Succeeded",
            "internalId": f"SW1wb3J0YW50LXpvbmUtaWQtZm9yLXRlc3Rz;{zone_name}",
        },
    }


def a_record(s: WorkspaceScenario, zone_name: str, name: str, ip: str) -> dict:
    rid = f"{s.zone_id(zone_name)}/A/{name}"
    return {
        "id": rid,
        "name": name,
        "type": "Microsoft.Network/privateDnsZones/A",
        "etag": etag(rid),
        "properties": {
            "metadata": {"creator": "created by private endpoint " + s.pe_name + " with resource guid 3f2e1d0c-9b8a-4765-8432-10fedcba9876"},
            "ttl": 10,
            "fqdn": f"{name}.{zone_name}.",
            "isAutoRegistered": False,
            "aRecords": [{"ipv4Address": ip}],
        },
    }


def soa_record(s: WorkspaceScenario, zone_name: str) -> dict:
    rid = f"{s.zone_id(zone_name)}/SOA/@"
    return {
        "id": rid,
        "name": "@",
        "type": "Microsoft.Network/privateDnsZones/SOA",
        "etag": etag(rid),
        "properties": {
            "ttl": 3600,
            "fqdn": f"{zone_name}.",
            "isAutoRegistered": False,
            "soaRecord": {
                "email": "azureprivatedns-host.microsoft.com",
                "expireTime": 2419200,
                "host": "azureprivatedns.net",
                "minimumTtl": 10,
                "refreshTime": 3600,
                "retryTime": 300,
                "serialNumber": 1,
            },
        },
    }


def vnet_links(s: WorkspaceScenario, zone_name: str) -> list[dict]:
    if not s.zone_linked:
        return []
    lid = f"{s.zone_id(zone_name)}/virtualNetworkLinks/{s.vnet_name}-link"
    return [
        {
            "id": lid,
            "name": f"{s.vnet_name}-link",
            "type": "Microsoft.Network/privateDnsZones/virtualNetworkLinks",
            "etag": etag(lid),
            "location": "global",
            "properties": {
                "virtualNetwork": {"id": s.vnet_id},
                "registrationEnabled": False,
                "resolutionPolicy": s.link_resolution_policy,
                "virtualNetworkLinkState": s.vnet_link_state,
                "provisioningState": "Succeeded",
            },
        }
    ]


# --- associated resources -----------------------------------------------------------------------


def key_vault(s: WorkspaceScenario) -> dict:
    props: dict[str, Any] = {
        "sku": {"family": "A", "name": "standard"},
        "tenantId": s.tenant_id,
        "accessPolicies": list(s.kv_access_policies),
        "enabledForDeployment": False,
        "enabledForDiskEncryption": False,
        "enabledForTemplateDeployment": False,
        "enableSoftDelete": True,
        "softDeleteRetentionInDays": 90,
        "enableRbacAuthorization": s.kv_rbac,
        "vaultUri": f"https://{s.key_vault_name}.vault.azure.net/",
        "provisioningState": "Succeeded",
        "publicNetworkAccess": "Enabled",
    }
    if s.kv_network_acls is not None:
        props["networkAcls"] = s.kv_network_acls
    return {
        "id": s.key_vault_id,
        "name": s.key_vault_name,
        "type": "Microsoft.KeyVault/vaults",
        "location": s.location,
        "tags": {},
        "systemData": system_data("2023-05-09T01:20:00.0000000Z"),
        "properties": props,
    }


def registry_pecs(s: WorkspaceScenario) -> list[dict]:
    def pec(name: str, pe_id: str, status: str, description: str) -> dict:
        return {
            "id": f"{s.registry_id}/privateEndpointConnections/{name}",
            "name": name,
            "type": "Microsoft.ContainerRegistry/registries/privateEndpointConnections",
            "properties": {
                "provisioningState": "Succeeded",
                "privateEndpoint": {"id": pe_id},
                "privateLinkServiceConnectionState": {
                    "status": status,
                    "description": description,
                    "actionsRequired": "None",
                },
            },
        }

    pecs = [
        pec(
            "pe-acr.c3a1b2d4-5e6f-4789-9abc-def012345678",
            f"/subscriptions/{s.subscription_id}/resourceGroups/{s.net_resource_group}/providers/Microsoft.Network/privateEndpoints/pe-acr",
            "Approved",
            "Auto-Approved",
        )
    ] if s.acr_private_endpoint else []
    if s.legacy_egress is not None:
        pecs.append(
            pec(
                f"{s.workspace_id}-{s.registry_name}-egress",
                f"/subscriptions/{AML_MANAGED_SUBSCRIPTION}/resourceGroups/vnet-{s.workspace_id}"
                f"/providers/Microsoft.Network/privateEndpoints/{s.registry_name}-egress-pe",
                s.legacy_egress,
                EGRESS_DESCRIPTION,
            )
        )
    return pecs


def container_registry(s: WorkspaceScenario) -> dict:
    return {
        "id": s.registry_id,
        "name": s.registry_name,
        "type": "Microsoft.ContainerRegistry/registries",
        "location": s.location,
        "tags": {},
        "sku": {"name": s.acr_sku, "tier": s.acr_sku},
        "systemData": system_data("2023-05-09T01:21:00.0000000Z"),
        "properties": {
            "loginServer": f"{s.registry_name}.azurecr.io",
            "creationDate": "2023-05-09T01:21:26.1537861Z",
            "provisioningState": "Succeeded",
            "adminUserEnabled": False,
            "networkRuleSet": {"defaultAction": s.acr_default_action, "ipRules": []},
            "policies": {
                "quarantinePolicy": {"status": "disabled"},
                "trustPolicy": {"type": "Notary", "status": "disabled"},
                "retentionPolicy": {"days": 7, "lastUpdatedTime": "2023-05-09T01:23:12.8506835+00:00", "status": "disabled"},
                "exportPolicy": {"status": "enabled"},
            },
            "encryption": {"status": "disabled"},
            "status": None,
            "dataEndpointEnabled": False,
            "dataEndpointHostNames": [],
            "privateEndpointConnections": registry_pecs(s),
            "publicNetworkAccess": s.acr_public_network_access,
            "networkRuleBypassOptions": "AzureServices",
            "zoneRedundancy": "Disabled",
            "anonymousPullEnabled": False,
        },
    }


def storage_pec(s: WorkspaceScenario, group: str, status: str) -> dict:
    """A storage private endpoint connection as Microsoft.Storage 2023-05-01 lists it: no group ids (those are on
    the private endpoint), a name of `<pe>.<guid>`."""
    pe_name = s.storage_pe_id(group).rsplit("/", 1)[-1]
    name = f"{pe_name}.{s.workspace_id[:8]}-{group}"
    return {
        "id": f"{s.storage_id}/privateEndpointConnections/{name}",
        "name": name,
        "type": "Microsoft.Storage/storageAccounts/privateEndpointConnections",
        "properties": {
            "provisioningState": "Succeeded",
            "privateEndpoint": {"id": s.storage_pe_id(group)},
            "privateLinkServiceConnectionState": {
                "status": status,
                "description": "Auto-Approved" if status == "Approved" else "",
                "actionRequired": "None",
            },
        },
    }


def storage_private_endpoint(s: WorkspaceScenario, group: str) -> dict:
    """The storage account's private endpoint for one group id (the shape of PrivateEndpointGet, 2024-05-01)."""
    pe_id = s.storage_pe_id(group)
    name = pe_id.rsplit("/", 1)[-1]
    status = s.storage_private_endpoints[group]
    connection = {
        "id": f"{pe_id}/privateLinkServiceConnections/{name}",
        "name": name,
        "type": "Microsoft.Network/privateEndpoints/privateLinkServiceConnections",
        "etag": etag(name),
        "properties": {
            "provisioningState": "Succeeded",
            "privateLinkServiceId": s.storage_id,
            "groupIds": [group],
            "privateLinkServiceConnectionState": {"status": status, "description": "Auto-Approved", "actionsRequired": "None"},
        },
    }
    return {
        "id": pe_id,
        "name": name,
        "type": "Microsoft.Network/privateEndpoints",
        "location": s.location,
        "etag": etag(pe_id),
        "properties": {
            "provisioningState": "Succeeded",
            "subnet": {"id": s.subnet_id},
            "privateLinkServiceConnections": [connection] if status == "Approved" else [],
            "manualPrivateLinkServiceConnections": [] if status == "Approved" else [connection],
            "customDnsConfigs": [],
        },
    }


def storage_account(s: WorkspaceScenario) -> dict:
    properties: dict[str, Any] = {
        "provisioningState": "Succeeded",
        "allowBlobPublicAccess": False,
        "minimumTlsVersion": "TLS1_2",
        "networkAcls": {
            "bypass": s.storage_bypass,
            "defaultAction": s.storage_default_action,
            "ipRules": [],
            "virtualNetworkRules": [],
            "resourceAccessRules": [{"tenantId": s.tenant_id, "resourceId": r} for r in s.storage_resource_access_rules],
        },
        "privateEndpointConnections": [storage_pec(s, g, st) for g, st in s.storage_private_endpoints.items()],
        "primaryEndpoints": {
            "blob": f"https://{s.storage_name}.blob.core.windows.net/",
            "file": f"https://{s.storage_name}.file.core.windows.net/",
        },
    }
    if s.storage_public_network_access is not None:
        properties["publicNetworkAccess"] = s.storage_public_network_access
    return {
        "id": s.storage_id,
        "name": s.storage_name,
        "type": "Microsoft.Storage/storageAccounts",
        "location": s.location,
        "kind": "StorageV2",
        "sku": {"name": "Standard_LRS", "tier": "Standard"},
        "tags": {},
        "properties": properties,
    }


def application_insights(s: WorkspaceScenario) -> dict:
    return {
        "id": s.app_insights_id,
        "name": s.app_insights_name,
        "type": "microsoft.insights/components",
        "location": s.location,
        "kind": "web",
        "tags": {},
        "properties": {
            "ApplicationId": s.app_insights_name,
            "AppId": "b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e",
            "Application_Type": "web",
            "provisioningState": "Succeeded",
            "publicNetworkAccessForIngestion": "Enabled",
            "publicNetworkAccessForQuery": "Enabled",
        },
    }


def generic_resource(rid: str, rtype: str, location: str, created: str) -> dict:
    """An item of ARM's generic `/resources` list (createdTime/changedTime need `$expand`)."""
    return {
        "id": rid,
        "name": rid.rsplit("/", 1)[-1],
        "type": rtype,
        "location": location,
        "createdTime": created,
        "changedTime": created,
    }


def operation_status(s: WorkspaceScenario, e: Endpoint, d: Deployment) -> dict:
    """GET of a deployment's latest operation (ARM's Azure-AsyncOperation format): Failed, with its error."""
    path = s.operation_path(e.name, d.name)
    return {"id": path, "name": path.rsplit("/", 1)[1], "status": "Failed", "startTime": "2024-02-12T09:16:37.1234567+00:00",
            "endTime": "2024-02-12T09:48:02.7654321+00:00", "error": d.operation_error}


# --- role-based access: role assignments and definitions (Microsoft.Authorization, api-version 2022-04-01) --------

# Principals of the identities the default bodies carry.
ENDPOINT_PRINCIPAL = "0d7e6f5a-4b3c-4d2e-8f1a-9b8c7d6e5f4a"
WORKSPACE_PRINCIPAL = "6b2f6c1e-3d4a-4b5c-9d8e-7f6a5b4c3d2e"
ADMIN_USER = "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c"
PIPELINE_SP = "7a6b5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d"

ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
STORAGE_BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
APPROVER = "b556d68e-0be0-4f35-a333-ad7ee1ce17ea"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"

# Built-in roles as `GET /providers/Microsoft.Authorization/roleDefinitions/{id}` answers them (the approver's list
# of actions is shortened to the resource types these scenarios use; the real role lists more).
BUILTIN_ROLES: dict[str, tuple[str, str, dict]] = {
    ACR_PULL: ("AcrPull", "acr pull", {"actions": ["Microsoft.ContainerRegistry/registries/pull/read"],
                                       "notActions": [], "dataActions": [], "notDataActions": []}),
    STORAGE_BLOB_DATA_READER: ("Storage Blob Data Reader", "Allows for read access to Azure Storage blob containers "
                               "and data", {
        "actions": ["Microsoft.Storage/storageAccounts/blobServices/containers/read",
                    "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action"],
        "notActions": [], "dataActions": ["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"],
        "notDataActions": []}),
    KEY_VAULT_SECRETS_USER: ("Key Vault Secrets User", "Read secret contents.", {
        "actions": [], "notActions": [],
        "dataActions": ["Microsoft.KeyVault/vaults/secrets/getSecret/action",
                        "Microsoft.KeyVault/vaults/secrets/readMetadata/action"], "notDataActions": []}),
    APPROVER: ("Azure AI Enterprise Network Connection Approver",
               "Can approve private endpoint connections to Azure AI common dependency resources", {
        "actions": ["Microsoft.ContainerRegistry/registries/privateEndpointConnectionsApproval/action",
                    "Microsoft.ContainerRegistry/registries/privateEndpointConnections/read",
                    "Microsoft.ContainerRegistry/registries/privateEndpointConnections/write",
                    "Microsoft.KeyVault/vaults/privateEndpointConnectionsApproval/action",
                    "Microsoft.KeyVault/vaults/privateEndpointConnections/read",
                    "Microsoft.KeyVault/vaults/privateEndpointConnections/write",
                    "Microsoft.Storage/storageAccounts/privateEndpointConnectionsApproval/action",
                    "Microsoft.Storage/storageAccounts/privateEndpointConnections/read",
                    "Microsoft.Storage/storageAccounts/privateEndpointConnections/write",
                    "Microsoft.MachineLearningServices/workspaces/privateEndpointConnectionsApproval/action",
                    "Microsoft.MachineLearningServices/workspaces/privateEndpointConnections/read",
                    "Microsoft.MachineLearningServices/workspaces/privateEndpointConnections/write"],
        "notActions": [], "dataActions": [], "notDataActions": []}),
    OWNER: ("Owner", "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
            {"actions": ["*"], "notActions": [], "dataActions": [], "notDataActions": []}),
    CONTRIBUTOR: ("Contributor", "Grants full access to manage all resources, but does not allow you to assign roles "
                  "in Azure RBAC.", {
        "actions": ["*"],
        "notActions": ["Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write",
                       "Microsoft.Authorization/elevateAccess/Action", "Microsoft.Blueprint/blueprintAssignments/write",
                       "Microsoft.Blueprint/blueprintAssignments/delete",
                       "Microsoft.Compute/galleries/share/action", "Microsoft.Purview/consents/write",
                       "Microsoft.Purview/consents/delete"],
        "dataActions": [], "notDataActions": []}),
    READER: ("Reader", "View all resources, but does not allow you to make any changes.",
             {"actions": ["*/read"], "notActions": [], "dataActions": [], "notDataActions": []}),
}


def role_definition(definition_id: str, guid: str, name: str, description: str, permissions: dict,
                    custom: bool = False) -> dict:
    return {
        "id": definition_id,
        "name": guid,
        "type": "Microsoft.Authorization/roleDefinitions",
        "properties": {
            "roleName": name,
            "type": "CustomRole" if custom else "BuiltInRole",
            "description": description,
            "assignableScopes": ["/"],
            "permissions": [permissions],
            "createdOn": "2018-02-22T02:26:32.2417813Z",
            "updatedOn": "2024-11-19T20:31:59.6407003Z",
            "createdBy": None,
            "updatedBy": None,
        },
    }


def custom_role(s: WorkspaceScenario, guid: str, name: str, actions: list[str], not_actions: list[str] = (),
                data_actions: list[str] = (), not_data_actions: list[str] = ()) -> dict:
    """A custom role of the scenario's subscription (served at its subscription-prefixed id)."""
    return role_definition(f"/subscriptions/{s.subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{guid}",
                           guid, name, f"{name} (custom)", {"actions": list(actions), "notActions": list(not_actions),
                                                            "dataActions": list(data_actions),
                                                            "notDataActions": list(not_data_actions)}, custom=True)


def role_assignment(s: WorkspaceScenario, scope: str, role: str, principal: str, principal_type: str = "ServicePrincipal",
                    *, tenant_form: bool = False, condition: str | None = None) -> dict:
    """One role assignment as `GET .../roleAssignments` lists it. `tenant_form`: the roleDefinitionId without the
    `/subscriptions/<id>` prefix (as assignments made at a management group carry it)."""
    import uuid

    guid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{scope.lower()}|{role}|{principal}"))
    prefix = "" if tenant_form else f"/subscriptions/{s.subscription_id}"
    return {
        "id": f"{scope.rstrip('/')}/providers/Microsoft.Authorization/roleAssignments/{guid}",
        "name": guid,
        "type": "Microsoft.Authorization/roleAssignments",
        "properties": {
            "roleDefinitionId": f"{prefix}/providers/Microsoft.Authorization/roleDefinitions/{role}",
            "principalId": principal,
            "principalType": principal_type,
            "scope": scope,
            "condition": condition,
            "conditionVersion": "2.0" if condition else None,
            "createdOn": "2024-02-12T09:15:02.4391220Z",
            "updatedOn": "2024-02-12T09:15:02.4391220Z",
            "createdBy": ADMIN_USER,
            "updatedBy": ADMIN_USER,
            "delegatedManagedIdentityResourceId": None,
            "description": None,
        },
    }


def healthy_role_assignments(s: WorkspaceScenario) -> list[dict]:
    """What a working workspace holds: the endpoint identity's three roles on the registry, storage and vault, the
    workspace identity's approver role on its resource group, and assignments of other principals around them."""
    sub, rg = f"/subscriptions/{s.subscription_id}", f"/subscriptions/{s.subscription_id}/resourceGroups/{s.resource_group}"
    return [
        role_assignment(s, sub, OWNER, ADMIN_USER, "User"),
        role_assignment(s, rg, CONTRIBUTOR, PIPELINE_SP),
        role_assignment(s, rg, APPROVER, WORKSPACE_PRINCIPAL),
        role_assignment(s, s.registry_id, ACR_PULL, ENDPOINT_PRINCIPAL),
        role_assignment(s, s.storage_id, STORAGE_BLOB_DATA_READER, ENDPOINT_PRINCIPAL),
        role_assignment(s, s.key_vault_id, KEY_VAULT_SECRETS_USER, ENDPOINT_PRINCIPAL),
    ]
