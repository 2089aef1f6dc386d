"""dns.inference-a-record: the private zone holds `*.<workspaceId>.inference.<region>`, pointing at the private endpoint."""

from moediag.check import Doc, Example, check
from moediag.clouds import NAMES_NOTE, PUBLIC
from moediag.judge.private_dns import each_private_endpoint, record_verdicts

DOC = Doc(
    what=(
        f"For each private endpoint of the workspace: its private DNS zone groups register it in a zone named "
        f"`{PUBLIC.api_zone}` (the zone may live in another resource group or subscription), and that zone holds the "
        "A record `*.<workspaceId>.inference.<region>` (workspaceId and location from the workspace) whose only "
        "address is the private endpoint's IP for that name (from the endpoint's `customDnsConfigs`, else its "
        "network interface)."
        + NAMES_NOTE
    ),
    why=(
        f"Scoring requests to `<endpoint>.<region>.{PUBLIC.inference_domain}` are sent, by a CNAME, to "
        f"`<endpoint>.<workspaceId>.inference.<region>.{PUBLIC.api_zone}`. Inside the VNet that name is answered by this "
        "wildcard record. Without it the name does not exist (NXDOMAIN) for every client using the zone; with a "
        "wrong address, clients connect to an IP where the endpoint is not, and time out. Without a zone group "
        "nothing registers the record at all."
    ),
    fix=(
        "Add the record with the private endpoint's IP (`az network private-dns record-set a add-record -g <zone "
        f"group> -z {PUBLIC.api_zone} -n '*.<workspaceId>.inference.<region>' -a <ip>`), or let the DNS integration of the "
        "workspace private endpoint register it again (remove the zone from its zone group and add it back: "
        "`az network private-endpoint dns-zone-group remove` / `add`). A private endpoint created before "
        "2022-05-24 lacks the inference name and must itself be recreated. "
        "Without a zone group: find the zone (`az network private-dns zone list`) and attach it with "
        "`az network private-endpoint dns-zone-group create`."
    ),
    run_from="Anywhere with Reader access: only Resource Manager is read (the zone's records, not a DNS answer).",
    links=("https://learn.microsoft.com/azure/machine-learning/how-to-custom-dns",
           "https://learn.microsoft.com/azure/private-link/private-endpoint-dns"),
    examples=(
        Example({"workspace": {"name": "ws-prod",
                               "location": "eastus2",
                               "properties": {"workspaceId": "11111111-2222-3333-4444-555555555555"}},
                 "private_endpoint": {"name": "pe-ws",
                                      "properties": {"customDnsConfigs":
                                                         [{"fqdn":
                                                               f"*.11111111-2222-3333-4444-555555555555.inference.eastus2.{PUBLIC.api_domain}",
                                                           "ipAddresses": ["10.0.1.5"]}]}},
                 "zone": f"/subscriptions/.../privateDnsZones/{PUBLIC.api_zone}",
                 "A *.11111111-2222-3333-4444-555555555555.inference.eastus2": None},
                f"fail: zone {PUBLIC.api_zone} has no A record "
                "*.11111111-2222-3333-4444-555555555555.inference.eastus2: inside the VNet the scoring host of every"
                " endpoint of workspace ws-prod does not resolve (NXDOMAIN)"),
        Example({"private_endpoint": {"name": "pe-ws",
                                      "properties": {"customDnsConfigs":
                                                         [{"fqdn":
                                                               f"*.11111111-2222-3333-4444-555555555555.inference.eastus2.{PUBLIC.api_domain}",
                                                           "ipAddresses": ["10.0.1.5"]}]}},
                 "zone": f"/subscriptions/.../privateDnsZones/{PUBLIC.api_zone}",
                 "A *.11111111-2222-3333-4444-555555555555.inference.eastus2":
                     {"properties": {"aRecords": [{"ipv4Address": "10.0.1.5"}]}}},
                f"pass: zone {PUBLIC.api_zone} holds "
                "*.11111111-2222-3333-4444-555555555555.inference.eastus2 -> 10.0.1.5, the IP of private endpoint "
                "pe-ws"),
    ),
)


@check(id="dns.inference-a-record", title="Private DNS zone holds the inference record of the workspace private endpoint",
       severity="critical", scope="workspace",
       facts=("workspace", "network_workspace", "private_endpoint_inference", "private_dns_zone_groups", "private_dns_record"), doc=DOC,
       explained_by=("workspace.private-endpoint-age", "workspace.private-endpoint-approved"), hops=("scoring:zone-record",), fix_risk="safe")
def evaluate(ctx):
    return each_private_endpoint(ctx, record_verdicts,
                                 "the workspace has no private endpoint: its inference names are public")


