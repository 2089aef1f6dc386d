"""dns.zone-vnet-link: the inference zone is linked to the VNet of the workspace private endpoint."""

from moediag.check import Doc, Example, check
from moediag.clouds import NAMES_NOTE, PUBLIC
from moediag.judge.private_dns import copies_of_the_zone, each_private_endpoint, link_verdicts

DOC = Doc(
    what=(
        f"For each private endpoint of the workspace, each `{PUBLIC.api_zone}` zone its zone groups register in has a "
        "virtual network link to the endpoint's VNet (the VNet of its subnet) in state `Completed`. When that VNet "
        "uses custom DNS servers and the zone is linked to other VNets instead, the result is a warning: the zone "
        "only has to be linked where the DNS forwarder runs (see dns.custom-dns-forwarding). A link whose "
        "`properties.resolutionPolicy` is `NxDomainRedirect` warns too: a name the zone lacks is then answered by "
        "public DNS instead of NXDOMAIN, which hides a missing inference record. Private endpoints of one workspace "
        "registering in several zones of that name (hub and spoke copies) warn once, naming each copy: they drift."
        + NAMES_NOTE
    ),
    why=(
        "Azure DNS answers from a private zone only inside the VNets linked to it. Without the link, clients in the "
        "VNet get the public answer for the scoring host, and a network-isolated endpoint refuses them "
        "(or the connection goes nowhere). A link still `InProgress` does not answer yet."
    ),
    fix=(
        f"Link the zone to the VNet: `az network private-dns link vnet create -g <zone group> -z {PUBLIC.api_zone} "
        "-n <vnet>-link -v <vnet id> -e false` (add `--subscription` when the zone is in another subscription). "
        "A link in a failed state: delete it and create it again."
    ),
    run_from="Anywhere with Reader access: only Resource Manager is read.",
    links=("https://learn.microsoft.com/azure/dns/private-dns-virtual-network-links",
           "https://learn.microsoft.com/azure/machine-learning/how-to-custom-dns"),
    examples=(
        Example({"private_endpoint": {"name": "pe-ws",
                                      "properties": {"subnet": {"id":
                                                                    "/subscriptions/.../virtualNetworks/vnet-ml/subnets/snet-pe"}}},
                 "zone": f"/subscriptions/.../privateDnsZones/{PUBLIC.api_zone}",
                 "virtualNetworkLinks": [{"name": "vnet-hub-link",
                                          "properties": {"virtualNetwork":
                                                             {"id": "/subscriptions/.../virtualNetworks/vnet-hub"},
                                                         "virtualNetworkLinkState": "Completed"}}]},
                f"fail: zone {PUBLIC.api_zone} is not linked to VNet vnet-ml (linked only to vnet-hub): "
                "clients there get the public answer for the scoring host"),
        Example({"private_endpoint": {"name": "pe-ws",
                                      "properties": {"subnet": {"id":
                                                                    "/subscriptions/.../virtualNetworks/vnet-ml/subnets/snet-pe"}}},
                 "zone": f"/subscriptions/.../privateDnsZones/{PUBLIC.api_zone}",
                 "virtualNetworkLinks": [{"name": "vnet-ml-link",
                                          "properties": {"virtualNetwork":
                                                             {"id": "/subscriptions/.../virtualNetworks/vnet-ml"},
                                                         "virtualNetworkLinkState": "Completed"}}]},
                f"pass: zone {PUBLIC.api_zone} is linked to VNet vnet-ml (vnet-ml-link, Completed)"),
    ),
)


@check(id="dns.zone-vnet-link", title="Private DNS zone is linked to the private endpoint's VNet",
       severity="high", scope="workspace",
       facts=("workspace", "network_workspace", "private_endpoint_inference", "private_dns_zone_groups", "private_dns_zone_links",
              "virtual_network"), doc=DOC,
       explained_by=(), hops=("scoring:zone-link",), fix_risk="safe")
def evaluate(ctx):
    results = each_private_endpoint(ctx, link_verdicts, "the workspace has no private endpoint: no private zone to link")
    return results + copies_of_the_zone(ctx)


