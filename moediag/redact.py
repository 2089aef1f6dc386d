"""Secrets out of everything moediag prints, on every run; with `--redact`, identifiers too.

moediag prints text others wrote (container logs, Azure error messages, resource bodies) into reports,
tickets and CI logs. Every run passes the report and the snapshot through a `Redactor(ids=False)` before
anything is written (session.for_output), and log text is scrubbed where it enters (`scrub`, in the deployment_logs
fact and again in logpatterns before any line is cut), so a secret is never cut in half by a truncation.

What is masked, and how:
- secrets, by the table `SECRET_PATTERNS` below (one row per spelling: name, regex, what it masks, an
  example line and the secret in it; docs/redaction.md is rendered from it) -> `[redacted:<hash>]`;
- the values of JSON keys named like secrets (`secret_name`: `password`, `primaryKey`, `client_secret`,
  `DB_PASSWORD`, ...), and every value of an `environmentVariables` / `environment_variables` object (names
  kept) -> `[redacted:<hash>]`;
- the credentials moediag itself was handed (`MOEDIAG_ACCESS_TOKEN`, and `AZURE_CLIENT_SECRET`,
  `AZURE_PASSWORD`, `AZURE_CLIENT_CERTIFICATE_PASSWORD` when set), wherever they appear;
- with `--redact` only: every GUID (subscription, tenant, principal, client and object ids cannot be told
  apart from other GUIDs, so all are masked, workspace ids inside DNS names too; a mask is still a GUID,
  `00000000-0000-0000-0000-` and 12 hex digits, so a redacted snapshot still replays) and e-mail addresses
  (`user-<hash>@redacted.invalid`).
Resource group, workspace, endpoint and resource names stay: they are what makes a report useful.

Masking is deterministic (a hash of the value, no salt): the same value masks to the same token in every
output and snapshot of a run and across runs, so a redacted report still reads and two tickets can be
compared. The price: someone who already knows a value can confirm it appears; nobody can recover it.
Masking twice changes nothing. Every pattern runs in time linear in its input (no quantifier can backtrack over
text another one already took; tests/test_secrets_corpus.py times adversarial 100 KB lines), and each distinct
string is masked once per run.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

GUID_MASK_PREFIX = "00000000-0000-0000-0000-"
_GUID = re.compile(r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}(?![0-9A-Fa-f])")
_EMAIL = re.compile(r"(?<![\w.%+-])[A-Za-z0-9._%+-]+@(?!redacted\.invalid)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_MASK = re.compile(r"\[redacted:[0-9a-f]{8}\]")
_MIN_LITERAL = 8  # a short "token" would mask ordinary words
# Variables whose value is a credential moediag itself may hold: masked wherever it appears.
CREDENTIAL_ENV = ("MOEDIAG_ACCESS_TOKEN", "AZURE_CLIENT_SECRET", "AZURE_PASSWORD", "AZURE_CLIENT_CERTIFICATE_PASSWORD")


def _digest(value: str, length: int) -> str:
    # surrogatepass: evidence may carry lone surrogates (a JSON "\udc80"); a mask must never crash the run
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:length]


def mask_guid(guid: str) -> str:
    lowered = guid.lower()
    if lowered.startswith(GUID_MASK_PREFIX):
        return lowered  # already a mask: redacting twice changes nothing
    return GUID_MASK_PREFIX + _digest(lowered, 12)


def mask_secret(value: str) -> str:
    return f"[redacted:{_digest(value, 8)}]"


# --- which names hold secrets --------------------------------------------------------------------------

_SECRET_KEY_SUFFIXES = ("password", "passwd", "secret", "connectionstring", "accesstoken", "refreshtoken", "idtoken",
                        "authtoken", "sastoken", "sessiontoken", "bearertoken", "apitoken", "hftoken", "apikey",
                        "accountkey", "primarykey", "secondarykey", "sharedaccesskey", "clientsecret", "privatekey",
                        "secretkey", "accesskey", "subscriptionkey", "masterkey", "functionskey", "authorization",
                        "cookie")
_SECRET_KEYS = {"token", "sig", "signature", "credentials"}
# An environment variable's name that says its value is a secret: DB_PASSWORD, AZURE_CLIENT_SECRET, HF_TOKEN,
# OPENAI_API_KEY, *_PWD (never PWD or OLDPWD: those are directories), STORAGE_CONNECTION_STRING, ...
ENV_SECRET_NAME = (r"[A-Z][A-Z0-9_]*_(?:KEY|SECRET|TOKEN|PASSWORD|PASSWD|PWD|PASS|CREDENTIALS?|CONNECTION_STRING|"
                   r"CONN_STR|SAS|SIG|SIGNATURE)|PASSWORD|PASSWD|SECRET|TOKEN|APIKEY")
_ENV_SECRET_NAME = re.compile(ENV_SECRET_NAME)
_ENV_OBJECT_KEYS = {"environmentvariables"}  # environmentVariables, environment_variables, EnvironmentVariables


@functools.lru_cache(maxsize=4096)  # a report repeats a few dozen keys hundreds of thousands of times
def secret_name(key: str) -> bool:
    """Whether a JSON key (or header, or variable name) says its value is a secret.

    `primaryKey`, `client_secret`, `x-api-key`, `Authorization`, `DB_PASSWORD` are; `keyVault` (an ARM id),
    `keyName`, `tokenType`, `eos_token`, `sshPublicKey` are not.
    """
    if _ENV_SECRET_NAME.fullmatch(key):
        return True
    plain = re.sub(r"[^a-z]", "", key.lower())
    return plain in _SECRET_KEYS or plain.endswith(_SECRET_KEY_SUFFIXES)


@functools.lru_cache(maxsize=4096)
def _env_object(key: str) -> bool:
    return re.sub(r"[^a-z]", "", key.lower()) in _ENV_OBJECT_KEYS


# --- the table -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SecretPattern:
    """One spelling of a secret: what matches, what is masked, and a line that proves it.

    The regex's groups named `secret...` (the first that took part in a match) are masked, the rest of the
    match is kept (`AccountKey=`, the quotes, the scheme). `hints`: the pattern is only tried on text that
    contains one of these (lowercase) strings, so names and ids cost a substring test, not a regex scan.
    `apply` replaces the regex substitution where one match is not enough: a private key block (its BEGIN and
    END markers), a quoted field (the value of a field that is no secret is searched for fields in turn).
    """

    name: str
    regex: re.Pattern[str]
    masks: str
    example: str
    secret: str  # the part of `example` that must disappear
    hints: tuple[str, ...] = ()
    mask: Callable[[re.Match[str]], str] | None = None  # the replacement of one match (default: the secret group)
    apply: Callable[[str], str] | None = field(default=None, compare=False)

    def scrub(self, text: str) -> str:
        if self.apply is not None:
            return self.apply(text)
        return self.regex.sub(self.mask or _mask_secret_group, text)


def _mask_secret_group(m: re.Match[str]) -> str:
    """The match with its `secret*` group masked (left alone when it is empty or already a mask)."""
    for group, value in m.groupdict().items():
        if value is None or not group.startswith("secret"):
            continue
        if not value.strip() or _MASK.fullmatch(value):
            return m.group(0)
        start, end = m.span(group)
        whole, base = m.group(0), m.start()
        return whole[: start - base] + mask_secret(value) + whole[end - base:]
    return m.group(0)


def _value(bare: str) -> str:
    """A value as written after `NAME=`/`NAME:`: quoted (spaces and all; an unclosed quote runs to the end of
    the line, as a cut line would; `\\"` quotes of JSON inside a string too) or bare (up to the first character in
    `bare`, or an escaped quote). Never a `$VAR` reference."""
    return (r"(?!\$\{?[A-Za-z_])(?!\[redacted:)(?:\"(?P<secret>[^\"\r\n]*)(?:\"|$)|'(?P<secret_sq>[^'\r\n]*)(?:'|$)|"
            r"\\\"(?P<secret_esc>(?:[^\"\\\r\n]|\\[^\"\r\n])*)(?:\\\"|$)|"
            rf"(?P<secret_bare>(?:[^{bare}\\]|\\(?!\"))+))")


# "key": "value", 'key': 'value' (a Python dict), \"key\": \"value\" (JSON inside a JSON string, at any depth)
_FIELD_KEY = re.compile(r"(?<!\\)(?P<kq>\\*[\"'])(?P<key>[A-Za-z_][\w.-]{0,63})(?P=kq)[ \t]*[:=][ \t]*")
_VALUE_QUOTE = re.compile(r"\\*[\"']")


def _quoted_value(text: str, pos: int) -> tuple[int, int, int] | None:
    """(start, end, after) of the quoted string at `pos`, whatever its escaping depth (`"`, `\\"`, `\\\\\\"`, `'`).

    The closing quote is the same quote with no further backslash before it; an unclosed string runs to the
    end of the line (a cut line). Linear: one `find` per candidate quote, always moving forward."""
    quote = _VALUE_QUOTE.match(text, pos)
    if quote is None:
        return None
    token, start = quote.group(0), quote.end()
    eol = text.find("\n", start)
    eol = len(text) if eol < 0 else eol
    at = start
    while (at := text.find(token, at, eol)) >= 0:
        if at == start or text[at - 1] != "\\":
            return start, at, at + len(token)
        at += 1
    return start, eol - (text[eol - 1:eol] == "\r"), eol


def _mask_fields(text: str, secret: Callable[[str], bool] = secret_name) -> str:
    """Mask the quoted value of every field whose key is `secret`. Not one regex substitution: the value of a
    field that is no secret (`"message": "{\\"password\\": \\"...\\"}"`) must still be searched for fields."""
    out, last, pos = [], 0, 0
    while (key := _FIELD_KEY.search(text, pos)) is not None:
        pos = key.end()
        if not secret(key.group("key")) or (value := _quoted_value(text, pos)) is None:
            continue
        start, end, pos = value
        if start == end or _MASK.fullmatch(text, start, end):
            continue
        out += [text[last:start], mask_secret(text[start:end])]
        last = end
    return "".join(out) + text[last:]


def _mask_env_object(m: re.Match[str]) -> str:
    start, end = m.span("body")
    whole, base = m.group(0), m.start()
    return whole[: start - base] + _mask_fields(m.group("body"), lambda key: True) + whole[end - base:]


def _mask_secret_bundle(m: re.Match[str]) -> str:
    """A Key Vault secret as its data plane returns it (`{"value": ..., "id": "https://kv.vault.../secrets/...", ...}`)."""
    body = m.group(0)
    if not any(host in body for host in (".vault.azure.net/secrets/", ".vault.usgovcloudapi.net/secrets/",
                                         ".vault.azure.cn/secrets/")):
        return body
    return _mask_fields(body, lambda key: key.lower() == "value")


def _mask_name_value_pair(m: re.Match[str]) -> str:
    return _mask_secret_group(m) if secret_name(m.group("key")) else m.group(0)


# Private keys: a block between BEGIN and END markers, also when a cut (a log tail) left only one of them.
_PEM_MARKER = re.compile(r"-----(?P<kind>BEGIN|END) (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----")
_PEM_INLINE = re.compile(r"[A-Za-z0-9+/=\\ \t]*")  # key material on the marker's own line (\n-escaped too)
_PEM_LINE = re.compile(r"[A-Za-z0-9+/=]*|(?:Proc-Type|DEK-Info|Comment): .*")  # a body line, blank, or a header
_PEM_BASE64 = re.compile(r"[A-Za-z0-9+/=]+")
_PEM_INLINE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\\ \t")
_PEM_EDGE = " \t\r\n"


def _mask_private_keys(text: str) -> str:
    markers = list(_PEM_MARKER.finditer(text))
    spans = []
    for i, m in enumerate(markers):
        if m.group("kind") == "BEGIN":
            after = markers[i + 1] if i + 1 < len(markers) else None
            end = after.start() if after is not None and after.group("kind") == "END" else _material_after(text, m.end())
            spans.append((m.end(), end))
        elif i == 0 or markers[i - 1].group("kind") == "END":  # the BEGIN was cut off
            spans.append((_material_before(text, m.start()), m.start()))
    out, last = [], 0
    for start, end in spans:
        start, end = _strip_edges(text, max(start, last), end)
        if start >= end or _MASK.fullmatch(text, start, end):
            continue
        out += [text[last:start], mask_secret(text[start:end])]
        last = end
    return "".join(out) + text[last:]


def _strip_edges(text: str, start: int, end: int) -> tuple[int, int]:
    """The span without the whitespace and escaped newlines (`\\n`) around it: the layout stays."""
    while start < end and (text[start] in _PEM_EDGE or text.startswith(("\\n", "\\r"), start, end)):
        start += 2 if text[start] == "\\" else 1
    while end > start and (text[end - 1] in _PEM_EDGE or (end - start >= 2 and text[end - 2:end] in ("\\n", "\\r"))):
        end -= 2 if text[end - 1] in "nr" and text[end - 2] == "\\" else 1
    return start, end


def _material_after(text: str, pos: int) -> int:
    """Where the key material after a BEGIN with no END ends: the rest of its line, then whole body lines."""
    end = _PEM_INLINE.match(text, pos).end()
    if end < len(text) and text[end] not in "\r\n":
        return end
    while end < len(text):
        line_end = text.find("\n", end + 1)
        line_end = len(text) if line_end < 0 else line_end
        if not _PEM_LINE.fullmatch(text[end + 1:line_end].strip()):
            break
        end = line_end
    return end


def _material_before(text: str, pos: int) -> int:
    """Where the key material before an END with no BEGIN starts: base64 on its line, then whole body lines
    (the last body line may be short; the others are full PEM lines, so a word on a line of its own stays)."""
    start = pos
    while start > 0 and text[start - 1] in _PEM_INLINE_CHARS:
        start -= 1
    if start > 0 and text[start - 1] not in "\r\n":
        return start
    first = not text[start:pos].strip()
    while start > 0:
        line_start = text.rfind("\n", 0, start - 1) + 1
        line = text[line_start:start].strip()
        if not _PEM_BASE64.fullmatch(line) or (not first and len(line) < 40):
            break
        start, first = line_start, False
    return start


_HEADER_NAMES = (r"x-api-key|api-key|apikey|x-functions-key|ocp-apim-subscription-key|x-ms-token-aad-[a-z-]+|"
                 r"x-auth-token|x-access-token|private-token|x-goog-api-key|proxy-authorization|authorization")
_SCHEMES = r"basic|bearer|digest|negotiate|ntlm|sharedkey(?:lite)?|sharedaccesssignature|token|apikey|sso-key"

SECRET_PATTERNS: tuple[SecretPattern, ...] = (
    SecretPattern(
        "private-key",
        _PEM_MARKER,
        "the body of a `-----BEGIN ... PRIVATE KEY-----` block (also one whose BEGIN or END a cut left out)",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx3fPq8Zr1Wn0s2yK7vB\n-----END RSA PRIVATE KEY-----",
        "MIIEowIBAAKCAQEAx3fPq8Zr1Wn0s2yK7vB",
        hints=("private key",), apply=_mask_private_keys),
    SecretPattern(
        "url-userinfo",
        re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]{1,30}://[^\s:/?#@\"'<>\[\]]*:(?!\[redacted:)(?P<secret>[^\s/?#\"'<>]+)@"),
        "the password in `scheme://user:password@host` (mongodb, postgres, redis, amqp, https, ...): user and host stay",
        "connecting to mongodb://appuser:Mng0Pass2024x@db.internal:27017/models",
        "Mng0Pass2024x",
        hints=("@",)),
    SecretPattern(
        "credential-header",
        re.compile(rf"(?i)(?<![\w-])(?:{_HEADER_NAMES})[ \t]*[:=][ \t]*(?:(?:{_SCHEMES})[ \t]+(?!\[redacted:)"
                   rf"(?P<secret>[^\s\"',;<>]+)|(?!\[redacted:)(?!(?:{_SCHEMES})[ \t])(?P<secret_bare>[^\s\"',;<>]{{8,}}))"),
        "the value of a credential header (`Authorization: Basic ...`, `x-api-key:`, `api-key:`, "
        "`Ocp-Apim-Subscription-Key:`, `x-ms-token-aad-id-token:`, ...); the scheme stays",
        "request headers: Authorization: Basic dXNlcjpTM2NyZXRQYXNz",
        "dXNlcjpTM2NyZXRQYXNz",
        hints=("key", "token", "authorization")),
    SecretPattern(
        "cookie-header",
        re.compile(r"(?i)(?<![\w-])(?:set-)?cookie[ \t]*:[ \t]*(?!\[redacted:)(?P<secret>[^\s\"'][^\r\n\"']*)"),
        "the rest of a `Cookie:` / `Set-Cookie:` line (session cookies)",
        "Cookie: session=c2Vzc2lvbnNlY3JldA; theme=dark",
        "session=c2Vzc2lvbnNlY3JldA; theme=dark",
        hints=("cookie",)),
    SecretPattern(
        "connection-string-key",
        re.compile(r"(?i)(?<![\w-])(?:AccountKey|SharedAccessKey|SharedSecretValue|AccessKey|Password|Passwd|"
                   r"(?<=;)[ \t]*Pwd)[ \t]*=[ \t]*(?!\[redacted:)(?:\"(?P<secret>[^\"\r\n]*)(?:\"|$)|"
                   r"'(?P<secret_sq>[^'\r\n]*)(?:'|$)|\{(?P<secret_br>[^}\r\n]*)(?:\}|$)|"
                   r"(?P<secret_spaced>[^;&\s\"'<>]+(?:[ \t]+[^;&\s\"'<>]+){1,8}(?=[ \t]*;))|(?P<secret_bare>[^;&\s\"'<>]+))",
                   re.MULTILINE),
        "a connection string's key or password: Storage `AccountKey=`, Service Bus / Event Hubs `SharedAccessKey=`, "
        "SQL `Password=` / `Pwd=` (to the next `;`, spaces included: up to 9 words), Redis `password=`",
        "DefaultEndpointsProtocol=https;AccountName=stwsprod;AccountKey=q8Zr1Wn0s2yK7vBx3fPq+w==;EndpointSuffix=core.windows.net",
        "q8Zr1Wn0s2yK7vBx3fPq+w==",
        hints=("key", "pass", "pwd", "secretvalue")),
    SecretPattern(
        "env-assignment",
        re.compile(rf"(?<![\w.$-])(?:{ENV_SECRET_NAME})[ \t]*[=:][ \t]*" + _value(r"\s\"'`"), re.MULTILINE),
        "the value of an environment-style variable named like a secret (`*_KEY`, `*_SECRET`, `*_TOKEN`, "
        "`*_PASSWORD`, `*_PWD`, `*_CONNECTION_STRING`, ...) in `NAME=value`, `NAME: value`, `export NAME=\"value\"`, "
        "`NAME='value'` (a quoted value is masked whole, spaces and all)",
        "export AZURE_CLIENT_SECRET=\"Zx9 q7Lm 4Rt2 Vb8w\"",
        "Zx9 q7Lm 4Rt2 Vb8w",
        hints=("key", "secret", "token", "pass", "pwd", "credential", "conn", "sas", "sig")),
    SecretPattern(
        "secret-assignment",
        re.compile(r"(?i)(?<![\w.$-])(?:[a-z0-9_.-]*?(?:password|passwd|secret|api_?key|access_?key|secret_?key|"
                   r"private_?key|account_?key|primary_?key|secondary_?key|subscription_?key|master_?key|"
                   r"access_?token|refresh_?token|auth_?token|sas_?token|hf_?token|api_?token|session_?token|"
                   r"bearer_?token|connection_?string))[ \t]*[=:][ \t]*" + _value(r"\s\"'`,;&<>)\]}"), re.MULTILINE),
        "the value of `name=value` / `name: value` when the name says secret in any case (`password`, "
        "`client_secret`, `api_key`, `access_token`, `db.password`, ...)",
        "mlflow login with api_key=mlf_7Yq2Lp9Xc4Vb",
        "mlf_7Yq2Lp9Xc4Vb",
        hints=("pass", "secret", "key", "token", "connection")),
    SecretPattern(
        "query-secret",
        re.compile(r"(?i)(?:(?<![\w.$-])(?:sig|signature|token|secret|sas|client_secret|api[-_]?key|subscription-key)|"
                   r"(?<=[?&#;])(?:code|key|id_token|access_token|refresh_token))=(?!\[redacted:)(?P<secret>[^\s&#;\"'<>]+)"),
        "a URL query or fragment credential: SAS `sig=`, `token=`, `code=`, `key=`, `access_token=`, ...",
        "GET https://stwsprod.blob.core.windows.net/m/model.pkl?sv=2022-11-02&sp=r&sig=Yq2Lp9Xc4Vb%2BZr1W%3D",
        "Yq2Lp9Xc4Vb%2BZr1W%3D",
        hints=("sig", "token", "secret", "sas", "key", "code=")),
    SecretPattern(
        "secret-field",
        _FIELD_KEY,  # then the quoted value after it (_quoted_value)
        "the value of a quoted field whose key says secret (`\"password\": \"...\"`, `'client_secret': '...'`, "
        "`\\\"apiKey\\\": \\\"...\\\"`, `\"DB_PASSWORD\": \"...\"`): JSON or a Python dict inside log text; "
        "`keyVault`, `keyName`, `tokenType` are not secrets",
        "payload={\"user\": \"svc\", \"password\": \"Pw0rd with spaces!\"}",
        "Pw0rd with spaces!",
        hints=("pass", "secret", "key", "token", "sig", "credential", "auth", "cookie", "pwd", "conn", "sas"),
        apply=_mask_fields),
    SecretPattern(
        "keyvault-secret-value",
        re.compile(r"[^{}]+"),  # the text between two braces: `value` and `id` side by side in one object
        "the `value` of a Key Vault secret printed as its data plane returns it (`value` beside an `id` that is "
        "`https://<vault>.vault.azure.net/secrets/...`)",
        "got {\"value\": \"Kv-Pl4in-Value\", \"id\": \"https://kv-ws-prod.vault.azure.net/secrets/db/0a1b\"}",
        "Kv-Pl4in-Value",
        hints=("/secrets/",), mask=_mask_secret_bundle),
    SecretPattern(
        "name-value-secret",
        re.compile(r"(?i)(?<!\\)(?P<q>\\*[\"'])name(?P=q)[ \t]*:[ \t]*(?P=q)(?P<key>[A-Za-z_][\w.-]{0,63})(?P=q)[ \t]*,[ \t]*"
                   r"(?P=q)(?:value|secureValue)(?P=q)[ \t]*:[ \t]*(?P=q)(?!\[redacted:)"
                   r"(?P<secret>(?:(?!(?P=q))[^\r\n])*)(?P=q)"),
        "`{\"name\": \"DB_PASSWORD\", \"value\": \"...\"}` (a Kubernetes or container-instance variable list)",
        "env: [{\"name\": \"HF_TOKEN\", \"value\": \"hf-Qm4Xw8Zt2Rv6\"}]",
        "hf-Qm4Xw8Zt2Rv6",
        hints=("value",), mask=_mask_name_value_pair),
    SecretPattern(
        "environment-object",
        re.compile(r"(?i)(?P<q>\\?[\"']?)environment_?variables(?P=q)[ \t]*[:=][ \t]*(?P<body>\{[^{}]*\})"),
        "every value of an `environment_variables` / `environmentVariables` object printed in a log (names stay)",
        "deployment environment_variables={'MODEL_NAME': 'churn', 'STORE_URL': 'Tq5Wz1Hc8Nd3'}",
        "Tq5Wz1Hc8Nd3",
        hints=("variables",), mask=_mask_env_object),
    SecretPattern(
        "cli-flag",
        re.compile(r"(?i)(?<![\w-])--?[a-z0-9-]*(?:password|passwd|secret|token|api-key|apikey|access-key|account-key|"
                   r"sas|connection-string)(?:=|[ \t]+)(?!-)" + _value(r"\s\"'`"), re.MULTILINE),
        "the value after a command-line flag named like a secret (`--password x`, `--client-secret=x`, `--sas-token x`)",
        "az login --service-principal -u app -p ignored --password Fq3Lz8Wx2Ns5 --tenant t",
        "Fq3Lz8Wx2Ns5",
        hints=("pass", "secret", "token", "key", "sas", "connection")),
    SecretPattern(
        "jwt",
        re.compile(r"\b(?P<secret>eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*)"),
        "a JSON Web Token (`eyJ...`), whole: access, ID and refresh tokens of Entra ID",
        "token acquired: eyJhbGciOiJSUzI1NiJ9.eyJvaWQiOiJ4In0.c2lnbmF0dXJlX2hlcmU",
        "eyJhbGciOiJSUzI1NiJ9.eyJvaWQiOiJ4In0.c2lnbmF0dXJlX2hlcmU",
        hints=("eyj",)),
    SecretPattern(
        "bearer",
        re.compile(r"(?i)\bbearer[ \t]+(?!\[redacted:)(?P<secret>(?=[A-Za-z._~+/-]*\d)[A-Za-z0-9._~+/-]{8,}=*|"
                   r"[A-Za-z0-9._~+/-]{20,}=*)"),
        "an opaque `Bearer` token anywhere (a digit in it, or 20+ characters: `Bearer authentication` stays)",
        "retrying with Bearer 7Qx2Lm9Vb4Zt8Wc1",
        "7Qx2Lm9Vb4Zt8Wc1",
        hints=("bearer",)),
    SecretPattern(
        "known-token",
        re.compile(r"(?<![\w~.-])(?P<secret>gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,}|hf_[A-Za-z0-9]{30,}|"
                   r"xox[abposr]-[A-Za-z0-9-]{10,}|glpat-[A-Za-z0-9_-]{20,}|npm_[A-Za-z0-9]{36}|"
                   r"sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,}|sk_live_[A-Za-z0-9]{20,}|AIza[0-9A-Za-z_-]{35}|"
                   r"[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34})(?![\w~.-])"),
        "a token recognisable by its shape alone, wherever it appears: GitHub (`ghp_`, `github_pat_`), Hugging "
        "Face (`hf_`), Slack, GitLab, npm, OpenAI project keys, Google API keys, Entra ID client secrets (`...8Q~...`)",
        "downloading with hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
        "hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
        hints=("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "hf_", "xox", "glpat-", "npm_", "sk-", "sk_live_", "aiza", "q~")),
    SecretPattern(
        "storage-key",
        re.compile(r"(?<![A-Za-z0-9+/])(?P<secret>[A-Za-z0-9+/]{86}==)(?![A-Za-z0-9+/=])"),
        "an Azure Storage account key on its own (88 base64 characters ending in `==`)",
        "key1 " + "Zm9v" * 21 + "YQ==",
        "Zm9v" * 21 + "YQ==",
        hints=("==",)),
)


# --- the redactor --------------------------------------------------------------------------------------

_PLAIN, _SECRET, _ENVIRONMENT = "plain", "secret", "environment"  # what a JSON key's value holds
_SCALARS = (int, float, bool)

# Every hint of the table, tested once per string: most strings of a report (ids, names, states) hold none.
_ALL_HINTS = tuple(sorted({h for p in SECRET_PATTERNS for h in p.hints}))


class Redactor:
    """`redactor(obj)` returns a masked deep copy of JSON-like data (keys too); `redactor.text(s)` masks a string."""

    def __init__(self, literals: Iterable[str] = (), *, ids: bool = True) -> None:
        unique = sorted({s for s in literals if s and len(s) >= _MIN_LITERAL}, key=len, reverse=True)
        self._literals = [(literal, mask_secret(literal)) for literal in unique]
        self._ids = ids  # False: secrets only (every run), True: ids and e-mail addresses too (--redact)
        # Reports repeat the same ids and names thousands of times: mask each distinct string once, and tell what
        # each distinct key holds once.
        self._seen: dict[str, str] = {}
        self._key_kinds: dict[str, str] = {}

    def text(self, text: str) -> str:
        if len(text) < 6:  # shorter than any secret, GUID or e-mail address
            return text
        masked = self._seen.get(text)
        if masked is None:
            masked = self._seen[text] = self._mask(text)
            self._seen.setdefault(masked, masked)  # masking is idempotent: scrubbed text is not scanned twice
        return masked

    def _mask(self, text: str) -> str:
        for literal, mask in self._literals:
            if literal in text:
                text = text.replace(literal, mask)
        lowered = text.lower()
        present = {hint for hint in _ALL_HINTS if hint in lowered}
        if present:
            for pattern in SECRET_PATTERNS:
                if not present.isdisjoint(pattern.hints):
                    text = pattern.scrub(text)
        if not self._ids:
            return text
        text = _EMAIL.sub(lambda m: f"user-{_digest(m.group(0).lower(), 8)}@redacted.invalid", text)
        return _GUID.sub(lambda m: mask_guid(m.group(0)), text)

    def __call__(self, data: Any) -> Any:
        # The hot path of every run (each report and snapshot is walked whole): exact types first, then subclasses.
        kind = type(data)
        if kind is str:
            return self.text(data)
        if kind is dict:
            return self._dict(data)
        if kind is list:
            return [self(item) for item in data]
        if isinstance(data, str):
            return self.text(data)
        if isinstance(data, list):
            return [self(item) for item in data]
        if isinstance(data, dict):
            return self._dict(data)
        return data

    def _dict(self, data: dict) -> dict:
        text, kinds, out = self.text, self._key_kinds, {}
        for k, value in data.items():
            key = k if type(k) is str else str(k)
            kind = kinds.get(key)
            if kind is None:
                kind = kinds[key] = _ENVIRONMENT if _env_object(key) else _SECRET if secret_name(key) else _PLAIN
            if kind is _PLAIN:
                if type(value) is str:
                    value = text(value)
                elif value is not None and type(value) not in _SCALARS:
                    value = self(value)
            elif kind is _ENVIRONMENT:
                value = self._environment(value)
            elif isinstance(value, str) and value and not _MASK.fullmatch(value):
                value = mask_secret(value)
            else:
                value = self(value)
            out[text(key)] = value
        return out

    def _environment(self, value: Any) -> Any:
        """Environment variables: every value masked, the names kept (a dict, or a list of name/value items)."""
        if isinstance(value, dict):
            return {self.text(str(k)): self._environment_value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._environment_item(item) for item in value]
        return self._environment_value(value)

    def _environment_item(self, item: Any) -> Any:
        """One item of a variable list: `{"name": ..., "value": ...}` (or `secureValue`) keeps its name."""
        if not isinstance(item, dict):
            return self._environment_value(item)
        return {self.text(str(k)): self._environment_value(v) if str(k).lower() in ("value", "securevalue") else self(v)
                for k, v in item.items()}

    def _environment_value(self, value: Any) -> Any:
        if isinstance(value, (dict, list)):
            return self._environment(value)
        if value is None or isinstance(value, bool) or value == "":
            return value
        text = value if isinstance(value, str) else str(value)
        return text if _MASK.fullmatch(text) else mask_secret(text)


def credential_literals() -> list[str]:
    """The credentials moediag was handed through its environment (see CREDENTIAL_ENV)."""
    return [value.strip() for name in CREDENTIAL_ENV if (value := os.environ.get(name)) and value.strip()]


def from_environment(*, ids: bool = True) -> Redactor:
    """A redactor that also masks the credentials moediag was handed, should they appear anywhere.

    Every run scrubs secrets (`ids=False`): a SAS token in a container log must not reach a ticket even
    when nobody asked for --redact. `--redact` adds the ids and e-mail addresses.
    """
    return Redactor(credential_literals(), ids=ids)


@functools.lru_cache(maxsize=8)
def _scrubber(literals: tuple[str, ...]) -> Redactor:
    return Redactor(literals, ids=False)


def scrub(text: str) -> str:
    """Secrets out of one text, as it enters (a container log): before anything cuts it into lines or prefixes.

    Scrubbing first means no truncation can cut a secret in half and let a piece of it past the patterns.
    Idempotent, and memoised: scrubbing text that was scrubbed already costs a dictionary look-up.
    """
    if not isinstance(text, str):
        return text
    return _scrubber(tuple(credential_literals())).text(text)


class LogScrubber(logging.Filter):
    """A handler filter for `--debug`: secrets out of each record (message, arguments, traceback) before it is
    written. Debug output lands in CI logs like any report."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg, record.args = scrub(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


def explain(text: str) -> list[str]:
    """The names of the patterns that change `text` (for tests and for docs/redaction.md)."""
    return [p.name for p in SECRET_PATTERNS if p.scrub(text) != text]


def markdown_table() -> str:
    """The pattern table as Markdown (docs/redaction.md carries it; a test keeps the two equal)."""
    rows = ["| Pattern | What is masked | Example | Becomes |", "|---|---|---|---|"]
    for p in SECRET_PATTERNS:
        example = p.example.replace("\n", " ⏎ ")
        after = Redactor(ids=False).text(p.example).replace("\n", " ⏎ ")
        rows.append(f"| `{p.name}` | {_cell(p.masks)} | {_code(example)} | {_code(after)} |")
    return "\n".join(rows) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _code(text: str) -> str:
    text = _cell(text)
    return f"`` {text} ``" if "`" in text else f"`{text}`"


if __name__ == "__main__":  # python -m moediag.redact > table.md
    print(markdown_table(), end="")
