"""What to check: the workspace (and endpoints) named on the command line or by `az` defaults."""

from __future__ import annotations

import configparser
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from moediag.clouds import DEFAULT as DEFAULT_CLOUD
from moediag.errors import UsageError

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# Names Azure accepts for groups, workspaces, endpoints: no slashes, spaces or query characters.
_NAME = re.compile(r"^[\w.()-]{1,90}$")

ML_PROVIDER = "Microsoft.MachineLearningServices"


@dataclass(frozen=True)
class Target:
    subscription_id: str
    resource_group: str
    workspace: str
    endpoints: tuple[str, ...] = ()
    deployment: str | None = None

    @property
    def workspace_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/{ML_PROVIDER}/workspaces/{self.workspace}"
        )

    def endpoint_id(self, endpoint: str) -> str:
        return f"{self.workspace_id}/onlineEndpoints/{endpoint}"

    def deployment_id(self, endpoint: str, deployment: str) -> str:
        return f"{self.endpoint_id(endpoint)}/deployments/{deployment}"

    def to_json(self) -> dict:
        return {
            "subscription_id": self.subscription_id,
            "resource_group": self.resource_group,
            "workspace": self.workspace,
            "endpoints": list(self.endpoints),
            "deployment": self.deployment,
        }

    @classmethod
    def from_json(cls, data: dict) -> Target:
        return cls(
            subscription_id=str(data["subscription_id"]),
            resource_group=str(data["resource_group"]),
            workspace=str(data["workspace"]),
            endpoints=tuple(str(e) for e in data.get("endpoints") or ()),
            deployment=data.get("deployment"),
        )


@dataclass(frozen=True)
class Options:
    """How to collect: knobs that change which evidence is read, not what a check concludes."""

    dns_servers: tuple[str, ...] = ()
    client_vnets: tuple[str, ...] = ()  # VNet ids whose scoring path network.client-vnet-path analyses
    azure_dns: str | None = None
    logs: str = "auto"  # auto: only deployments that are not Succeeded; all; none
    include_diagnose: bool = False
    timeout_s: float = 60.0
    cloud: str = DEFAULT_CLOUD  # a name of moediag.clouds.CLOUDS: which zone and host names the checks expect


def azure_config_dir() -> Path:
    return Path(os.environ.get("AZURE_CONFIG_DIR") or Path.home() / ".azure")


def _az_config_section(section: str) -> dict[str, str]:
    path = azure_config_dir() / "config"
    if not path.exists():
        return {}
    parser = configparser.ConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {str(exc).splitlines()[0]}") from exc
    return dict(parser[section]) if parser.has_section(section) else {}


def az_defaults() -> dict[str, str]:
    """`[defaults]` of the az CLI config, as `az configure --defaults group=... workspace=...` writes."""
    return _az_config_section("defaults")


def az_cloud() -> str | None:
    """The cloud az is set to (`[cloud] name`, as `az cloud set --name ...` writes), or None."""
    return _az_config_section("cloud").get("name") or None


def az_default_subscription() -> str | None:
    """The subscription marked default in azureProfile.json (written by `az login` / `az account set`)."""
    path = azure_config_dir() / "azureProfile.json"
    if not path.exists():
        return None
    try:
        # az writes this file with a UTF-8 byte order mark.
        profile = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {path}: {str(exc).splitlines()[0]}") from exc
    for sub in profile.get("subscriptions", []) if isinstance(profile, dict) else []:
        if isinstance(sub, dict) and sub.get("isDefault"):
            return sub.get("id")
    return None


def resolve_target(
    subscription: str | None,
    resource_group: str | None,
    workspace: str | None,
    endpoints: tuple[str, ...] = (),
    deployment: str | None = None,
) -> Target:
    """Fill in what the user left out the way `az ml` does, then validate it."""
    defaults = None
    if not resource_group or not workspace:
        defaults = az_defaults()
        resource_group = resource_group or defaults.get("group")
        workspace = workspace or defaults.get("workspace")
    subscription = subscription or os.environ.get("AZURE_SUBSCRIPTION_ID") or az_default_subscription()
    if not subscription:
        raise UsageError("no subscription: pass -s/--subscription, set AZURE_SUBSCRIPTION_ID, or run `az account set`")
    if not _GUID.match(subscription):
        raise UsageError(f"malformed subscription id {subscription!r}: expected a GUID like 00000000-0000-0000-0000-000000000000")
    if not resource_group:
        raise UsageError("no resource group: pass -g/--resource-group or run `az configure --defaults group=NAME`")
    if not workspace:
        raise UsageError("no workspace: pass -w/--workspace-name or run `az configure --defaults workspace=NAME`")
    for label, value in [("resource group", resource_group), ("workspace", workspace), *[("endpoint", e) for e in endpoints]]:
        if not _NAME.match(value):
            raise UsageError(f"malformed {label} name {value!r}")
    if deployment is not None and not _NAME.match(deployment):
        raise UsageError(f"malformed deployment name {deployment!r}")
    return Target(subscription.lower(), resource_group, workspace, tuple(endpoints), deployment)
