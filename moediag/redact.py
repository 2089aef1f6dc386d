"""`--redact`: mask identifiers and secrets in the report and the snapshot, once, before any renderer.

Masking is deterministic (a hash of the value, no salt): the same id masks to the same token in every
output and snapshot of a run and across runs, so a redacted report still reads ("the vault in the
same subscription as the workspace") and two redacted tickets can be compared. The price: someone who
already knows an id can confirm it appears; nobody can recover an id from its mask.

What is masked (docs: README "Redaction"):
- every GUID: subscription, tenant, principal, client and object ids cannot be told apart from other
  GUIDs, so all are masked, workspace ids inside DNS names too. A mask is still a GUID
  (`00000000-0000-0000-0000-` and 12 hex digits), so a redacted snapshot still replays;
- e-mail addresses (`createdBy` in systemData): `user-<hash>@redacted.invalid`;
- secret-looking values: JWTs (`eyJ...`), `Bearer ...`, SAS signatures (`sig=`), connection-string and
  query keys (`AccountKey=`, `SharedAccessKey=`, `password=`, ...), the values of JSON keys named like
  secrets (`primaryKey`, `password`, `connectionString`, ...), and the access token moediag was given
  (`MOEDIAG_ACCESS_TOKEN`), wherever it appears: `[redacted:<hash>]`.
Resource group, workspace, endpoint and resource names stay: they are what makes a report useful.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from typing import Any, Iterable

GUID_MASK_PREFIX = "00000000-0000-0000-0000-"
_GUID = re.compile(r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}(?![0-9A-Fa-f])")
_EMAIL = re.compile(r"(?<![\w.%+-])[A-Za-z0-9._%+-]+@(?!redacted\.invalid)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)\b(bearer\s+)(?!\[redacted:)([A-Za-z0-9._~+/-]{8,}=*)")
# `NAME=value` in connection strings and URLs; `NAME: value` only for names that are never a plain word.
_ASSIGNED = re.compile(r"(?i)\b(accountkey|sharedaccesskey|sharedaccesssignature|sig|password|pwd|passwd|client_?secret|"
                       r"secret|api_?key|access_?token|refresh_?token|sas_?token|token|code)(=)(?!\[redacted:)([^\s;&,\"'<>)\]}]+)")
_DECLARED = re.compile(r"(?i)\b(password|passwd|client_?secret|api_?key|access_?token|sas_?token)(\s*[:=]\s*)"
                       r"(?!\[redacted:)([^\s;&,\"'<>)\]}]+)")
_SECRET_KEY_SUFFIXES = ("password", "secret", "connectionstring", "accesstoken", "refreshtoken", "sastoken", "apikey",
                        "accountkey", "primarykey", "secondarykey", "sharedaccesskey", "clientsecret")
_SECRET_KEYS = {"token", "sig", "signature", "credentials"}
_MIN_LITERAL = 8  # a short "token" would mask ordinary words


def _digest(value: str, length: int) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:length]


def mask_guid(guid: str) -> str:
    lowered = guid.lower()
    if lowered.startswith(GUID_MASK_PREFIX):
        return lowered  # already a mask: redacting twice changes nothing
    return GUID_MASK_PREFIX + _digest(lowered, 12)


def mask_secret(value: str) -> str:
    return f"[redacted:{_digest(value, 8)}]"


@functools.lru_cache(maxsize=4096)
def _secret_key(key: str) -> bool:
    plain = re.sub(r"[^a-z]", "", key.lower())
    return plain in _SECRET_KEYS or plain.endswith(_SECRET_KEY_SUFFIXES)


class Redactor:
    """`redactor(obj)` returns a masked deep copy of JSON-like data (keys too); `redactor.text(s)` masks a string."""

    def __init__(self, literals: Iterable[str] = (), *, ids: bool = True) -> None:
        unique = sorted({s for s in literals if s and len(s) >= _MIN_LITERAL}, key=len, reverse=True)
        self._literals = [(literal, mask_secret(literal)) for literal in unique]
        self._ids = ids  # False: secrets only (every run), True: ids and e-mail addresses too (--redact)
        # Reports repeat the same ids and names thousands of times: mask each distinct string once.
        self._seen: dict[str, str] = {}

    def text(self, text: str) -> str:
        if len(text) < 6:  # shorter than any secret, GUID or e-mail address
            return text
        masked = self._seen.get(text)
        if masked is None:
            masked = self._seen[text] = self._mask(text)
        return masked

    def _mask(self, text: str) -> str:
        for literal, mask in self._literals:
            if literal in text:
                text = text.replace(literal, mask)
        text = _JWT.sub(lambda m: mask_secret(m.group(0)), text)
        text = _BEARER.sub(lambda m: m.group(1) + mask_secret(m.group(2)), text)
        for pattern in (_ASSIGNED, _DECLARED):
            text = pattern.sub(lambda m: m.group(1) + m.group(2) + mask_secret(m.group(3)), text)
        if not self._ids:
            return text
        text = _EMAIL.sub(lambda m: f"user-{_digest(m.group(0).lower(), 8)}@redacted.invalid", text)
        return _GUID.sub(lambda m: mask_guid(m.group(0)), text)

    def __call__(self, data: Any) -> Any:
        if isinstance(data, str):
            return self.text(data)
        if isinstance(data, list):
            return [self(item) for item in data]
        if isinstance(data, dict):
            return {self.text(str(k)): self._value(str(k), v) for k, v in data.items()}
        return data

    def _value(self, key: str, value: Any) -> Any:
        if isinstance(value, str) and value and _secret_key(key) and not value.startswith("[redacted:"):
            return mask_secret(value)
        return self(value)


def from_environment(*, ids: bool = True) -> Redactor:
    """A redactor that also masks the access token moediag was handed, should it appear anywhere.

    Every run scrubs secrets (`ids=False`): a SAS token in a container log must not reach a ticket even
    when nobody asked for --redact. `--redact` adds the ids and e-mail addresses.
    """
    from moediag.session import TOKEN_ENV

    token = (os.environ.get(TOKEN_ENV) or "").strip()
    return Redactor([token] if token else [], ids=ids)
