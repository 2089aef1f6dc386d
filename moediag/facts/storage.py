"""Facts about the workspace's storage account: its firewall and private endpoint connections."""

from __future__ import annotations

from typing import Any

from moediag.facts import Source, fact
from moediag.facts.workspace import associated_body

# Microsoft.Storage's stable version carrying networkAcls.resourceAccessRules, publicNetworkAccess and the
# private endpoint connections in the account body (one GET).
STORAGE_API = "2023-05-01"


@fact("storage_account", permissions=("Microsoft.Storage/storageAccounts/read",), needs=("workspace",))
def storage_account(src: Source) -> dict[str, Any]:
    """The workspace storage account's REST body: networkAcls (defaultAction, bypass, resourceAccessRules),
    publicNetworkAccess and privateEndpointConnections decide whether deployments can read the model and code."""
    return associated_body(src, "storageAccount", STORAGE_API)
