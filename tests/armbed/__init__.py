"""The ARM test bed: a loopback HTTPS Resource Manager for moediag's tests.

- `ArmTestBed` (server.py): the server, its store, faults, and request log.
- `WorkspaceScenario` and presets (scenarios.py): a network-isolated ML workspace in REST shapes.
- `StaticTokenCredential` (credential.py): a credential that returns the bed's token.
- Hostile mode: `ArmTestBed.foreign_origin()`, `redirect()`, foreign nextLinks and status links, and the
  bodies of hostile.py (`Streamed`: trickling or endless).
"""

from .credential import StaticTokenCredential
from .scenarios import (
    AUTO,
    CLOUD_NAMES,
    Deployment,
    Endpoint,
    WorkspaceScenario,
    broken,
    china,
    custom_dns,
    healthy,
    legacy_egress,
    many_endpoints,
    us_government,
)
from .server import ArmTestBed, BedRequest, ForeignOrigin, RequestRecord, Streamed

__all__ = [
    "AUTO",
    "CLOUD_NAMES",
    "ArmTestBed",
    "BedRequest",
    "Deployment",
    "Endpoint",
    "ForeignOrigin",
    "RequestRecord",
    "StaticTokenCredential",
    "Streamed",
    "WorkspaceScenario",
    "broken",
    "china",
    "custom_dns",
    "healthy",
    "legacy_egress",
    "many_endpoints",
    "us_government",
]
