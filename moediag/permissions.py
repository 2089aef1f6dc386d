"""Which built-in role grants an action: named in every `forbidden` result so the fix is one request away."""

from __future__ import annotations


def builtin_role_for(action: str) -> str:
    """The least-privileged built-in role that grants `action` (Reader grants every */read)."""
    lowered = action.lower()
    if lowered.endswith("/read"):
        return "Reader"
    if lowered.startswith("microsoft.machinelearningservices/"):
        return "AzureML Data Scientist"
    return "Contributor"


def missing_permission_hint(actions: list[str] | tuple[str, ...]) -> str:
    if not actions:
        return ""
    parts = [f"{a} (granted by the built-in {builtin_role_for(a)} role)" for a in actions]
    return "needs " + "; ".join(parts)
