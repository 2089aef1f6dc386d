"""Fix commands that are safe to paste into a POSIX shell.

Every fix command is built by `command(template, **values)`. The template is moediag's own text; each `{name}` in
it is filled with a value according to its type, and only its type:

- `str`: anything read from Azure, a snapshot, a log or the user. Shell-quoted with `shlex.quote`, which leaves
  ordinary names as they are (`kv-prod`, `/subscriptions/.../vaults/kv`) and single-quotes the rest (`'a b'`,
  `'$(x)'`), so a value is always exactly one word, whatever it holds. Even a `str` that reads `<name>` is quoted.
- `Placeholder`: a value moediag does not know (`<resource-group>`, `<deployment.yml>`), left for the reader to
  fill in. Printed as is, unquoted. Only code makes one, from a fixed name (never from evidence).
- `Command`: a fragment made by `command()` itself (`-g rg -w ws`), inserted as is.
- `int`: written in decimal. `None`: unknown, printed as a placeholder named after the field. Anything else (a
  bool or a list where a garbled response had a name) is made a `str` and quoted: never a crash, never unquoted.

A value never goes into a `# comment` of a template (a newline in it would end the comment): `command()` refuses
such a template. Values taken from log text are used only when valid for what they name (`is_fqdn`,
`is_python_module`); values inside an argument with its own syntax are checked for it (`kql_string`,
`is_map_key`).
"""

from __future__ import annotations

import ipaddress
import keyword
import re
import shlex
import string

_PLACEHOLDER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]*\Z")
_FORMATTER = string.Formatter()


class Placeholder(str):
    """`<name>`: a value the reader fills in. A distinct type, so that no string from evidence can pass as one."""

    def __new__(cls, name: str):
        if not isinstance(name, str) or not _PLACEHOLDER_NAME.match(name):
            raise ValueError(f"not a placeholder name: {name!r}")
        return super().__new__(cls, f"<{name}>")


class Command(str):
    """A command (or a fragment of one) built by `command()`: every value in it quoted."""

    has_comment: bool = False


def quote(value: object, field: str = "value") -> str:
    """One value as one shell word (see the module doc for what each type becomes)."""
    if isinstance(value, (Placeholder, Command)):
        return str(value)
    if value is None:
        return Placeholder(field.replace("_", "-"))
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return shlex.quote(value if isinstance(value, str) else str(value))


def command(template: str, **values: object) -> Command:
    """`template` with each `{name}` replaced by `quote(values[name])`."""
    out, in_comment = [], False
    for literal, field, spec, conversion in _FORMATTER.parse(template):
        if literal:
            in_comment = in_comment or re.search(r"(?:^|\s)#", literal) is not None
            out.append(literal)
        if field is None:
            continue
        if spec or conversion or not field.isidentifier():
            raise ValueError(f"{field!r}: fields of a command template are plain names")
        if in_comment:
            raise ValueError(f"{field!r} is in a comment of {template!r}: values never go into comments")
        value = values[field]
        if isinstance(value, Command) and value.has_comment:
            raise ValueError(f"{field!r}: a fragment with a comment cannot be inserted into a command")
        out.append(quote(value, field))
    built = Command("".join(out))
    built.has_comment = in_comment
    return built


def is_fqdn(text: object) -> bool:
    """A fully qualified host name per RFC 1123: two or more labels of letters, digits and inner hyphens, each at
    most 63 characters, at most 253 in all (a final dot allowed), the last label not all digits (not an IP)."""
    if not isinstance(text, str) or not text.isascii():
        return False
    name = text.removesuffix(".")
    labels = name.split(".")
    if len(name) > 253 or len(labels) < 2 or labels[-1].isdigit():
        return False
    return all(re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?", label) for label in labels)


def is_python_module(text: object) -> bool:
    """A dotted Python module name (`lightgbm`, `azureml.core`): each part an identifier, none a keyword."""
    if not isinstance(text, str) or not text:
        return False
    return all(part.isidentifier() and not keyword.iskeyword(part) for part in text.split("."))


def is_ip(text: object) -> bool:
    """An IPv4 or IPv6 address, written the way `ipaddress` reads it."""
    if not isinstance(text, str):
        return False
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def is_map_key(text: object) -> bool:
    """A name that can stand in a `name=value name=value` argument (`--traffic "blue=90 green=10"`): letters,
    digits, `-`, `_` and `.` only, so it cannot add a pair or change a value."""
    return isinstance(text, str) and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", text) is not None


def kql_string(value: str) -> str:
    """A double-quoted KQL string literal (Azure Resource Graph `--query`/`-q`) holding exactly `value`."""
    if not isinstance(value, str) or re.search(r"[\x00-\x1f\x7f]", value):
        raise ValueError(f"not text for a KQL literal: {value!r}")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
