"""The ARM test bed: a loopback HTTPS Resource Manager for moediag's tests.

- `ArmTestBed` (server.py): the server, its store, faults, and request log.
- `WorkspaceScenario` and presets (scenarios.py): a network-isolated ML workspace in REST shapes.
- `StaticTokenCredential` (credential.py): a credential that returns the bed's token.
"""

from .credential import StaticTokenCredential
from .scenarios import (
    AUTO,
    Deployment,
    Endpoint,
    WorkspaceScenario,
    broken,
    custom_dns,
    healthy,
    legacy_egress,
    many_endpoints,
)
from .server import ArmTestBed, BedRequest, RequestRecord

__all__ = [
    "AUTO",
    "ArmTestBed",
    "BedRequest",
    "Deployment",
    "Endpoint",
    "RequestRecord",
    "StaticTokenCredential",
    "WorkspaceScenario",
    "broken",
    "custom_dns",
    "healthy",
    "legacy_egress",
    "many_endpoints",
]
