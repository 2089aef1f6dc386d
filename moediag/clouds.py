"""The Azure clouds moediag knows, and every name that differs between them: the one table.

A run happens in one cloud (`--cloud`, else az's configured cloud, else AzureCloud; recorded in the report and
the snapshot). Everything that names a host or a zone asks the run's cloud (`ctx.cloud` in a check,
`cloud_of(src)` in a fact): no name of one cloud is written anywhere else (tests/test_clouds.py greps for them).

Sources, so each value can be checked again:
- Resource Manager endpoint and token scope: azure-mgmt-core's `get_arm_endpoints` (the SDK moediag reads
  through; tests/test_clouds.py compares), and azure-identity's `AzureAuthorityHosts` for the sign-in authority.
- Private DNS zones and the public names a DNS forwarder must send on ("Public DNS zone forwarders"): Microsoft's
  "Azure Private Endpoint private DNS zone values", https://learn.microsoft.com/azure/private-link/private-endpoint-dns
  (rows "Azure Machine Learning (Microsoft.MachineLearningServices/workspaces)" of the Commercial, Government and
  China tables).
- The inference host suffix is the last of those forwarders, and `scoringUri` of a managed online endpoint is
  `https://<endpoint>.<region>.<inference suffix>/score`.
"""

from __future__ import annotations

from dataclasses import dataclass

from moediag.errors import UsageError

CLOUD_ENV = "MOEDIAG_CLOUD"


@dataclass(frozen=True)
class Cloud:
    name: str  # as `az cloud list` names it
    resource_manager: str  # Resource Manager's URL, no trailing slash
    credential_scope: str  # what a token for Resource Manager is asked for
    authority: str  # the Entra ID sign-in host (DefaultAzureCredential's authority)
    api_domain: str  # the workspace API names (`<wsid>.workspace.<region>.<api_domain>`, the inference record's fqdn)
    notebooks_domain: str
    instances_domain: str  # compute instances
    inference_domain: str  # scoring hosts: `<endpoint>.<region>.<inference_domain>`
    notebook_content_domain: str = "aznbcontent.net"  # the same in every cloud (the documents' forwarder lists)

    @property
    def api_zone(self) -> str:
        """The private DNS zone of the workspace API and of online endpoints' inference names."""
        return f"privatelink.{self.api_domain}"

    @property
    def notebooks_zone(self) -> str:
        return f"privatelink.{self.notebooks_domain}"

    @property
    def private_zones(self) -> tuple[str, str]:
        """The zones a workspace private endpoint's DNS integration registers in."""
        return self.api_zone, self.notebooks_zone

    @property
    def forwarded_zones(self) -> tuple[str, str]:
        """What a custom DNS server must forward to Azure DNS for managed online endpoints to resolve privately."""
        return self.api_domain, self.inference_domain

    @property
    def public_forwarders(self) -> tuple[str, ...]:
        """Every public name of a workspace a DNS forwarder (or a resolver's ruleset) must send to Azure DNS; the
        privatelink zones themselves are never forwarded."""
        return (self.api_domain, self.notebooks_domain, self.instances_domain, self.notebook_content_domain,
                self.inference_domain)

    def scoring_host(self, endpoint: str, region: str) -> str:
        """The scoring host of a managed online endpoint named `endpoint` in `region`."""
        return f"{endpoint}.{region}.{self.inference_domain}"


AZURE_CLOUD = Cloud(
    name="AzureCloud",
    resource_manager="https://management.azure.com",
    credential_scope="https://management.azure.com/.default",
    authority="login.microsoftonline.com",
    api_domain="api.azureml.ms",
    notebooks_domain="notebooks.azure.net",
    instances_domain="instances.azureml.ms",
    inference_domain="inference.ml.azure.com",
)
AZURE_US_GOVERNMENT = Cloud(
    name="AzureUSGovernment",
    resource_manager="https://management.usgovcloudapi.net",
    # azure-mgmt-core asks US Government tokens for the classic audience, not `<endpoint>/.default`
    credential_scope="https://management.core.usgovcloudapi.net/.default",
    authority="login.microsoftonline.us",
    api_domain="api.ml.azure.us",
    notebooks_domain="notebooks.usgovcloudapi.net",
    instances_domain="instances.azureml.us",
    inference_domain="inference.ml.azure.us",
)
AZURE_CHINA = Cloud(
    name="AzureChinaCloud",
    resource_manager="https://management.chinacloudapi.cn",
    credential_scope="https://management.chinacloudapi.cn/.default",
    authority="login.chinacloudapi.cn",
    api_domain="api.ml.azure.cn",
    notebooks_domain="notebooks.chinacloudapi.cn",
    instances_domain="instances.azureml.cn",
    inference_domain="inference.ml.azure.cn",
)

CLOUDS: dict[str, Cloud] = {c.name: c for c in (AZURE_CLOUD, AZURE_US_GOVERNMENT, AZURE_CHINA)}
DEFAULT = AZURE_CLOUD.name
PUBLIC = AZURE_CLOUD  # what the documentation shows (the check pages name the public cloud's zones)
# Said on the pages of checks that name zones or hosts.
NAMES_NOTE = (f" Zone and host names here are the public cloud's; with `--cloud {AZURE_US_GOVERNMENT.name}` or "
              f"`--cloud {AZURE_CHINA.name}` the check expects that cloud's (`{AZURE_US_GOVERNMENT.api_zone}`, "
              f"`{AZURE_CHINA.api_zone}`; see docs/design.md).")


def named(name: str | None) -> Cloud:
    """The cloud called `name` (case-insensitively, as az accepts it); UsageError (one line, the three names)
    for any other."""
    for cloud in CLOUDS.values():
        if isinstance(name, str) and cloud.name.lower() == name.strip().lower():
            return cloud
    raise UsageError(f"unknown cloud {name!r} (choose from {', '.join(CLOUDS)})")



def cloud_of(options) -> Cloud:
    """The cloud of a run's options (moediag.target.Options; options without one are the public cloud's)."""
    return named(getattr(options, "cloud", None) or DEFAULT)
