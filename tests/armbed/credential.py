"""A credential that hands out the bed's token: no Entra ID, no IMDS, nothing off loopback."""

from __future__ import annotations

from typing import Any

from azure.core.credentials import AccessToken, AccessTokenInfo

FAR_FUTURE = 4102444800  # 2100-01-01, so azure-core never tries to refresh


class StaticTokenCredential:
    """Implements both azure-core credential protocols (`get_token` and `get_token_info`)."""

    def __init__(self, token: str, expires_on: int = FAR_FUTURE):
        self.token = token
        self.expires_on = expires_on
        self.calls = 0

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.calls += 1
        return AccessToken(self.token, self.expires_on)

    def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        self.calls += 1
        return AccessTokenInfo(self.token, self.expires_on)

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return "StaticTokenCredential(<redacted>)"


__all__ = ["StaticTokenCredential", "FAR_FUTURE"]
