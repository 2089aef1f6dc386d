"""A stand-in for Azure Resource Graph on the test bed: `POST /providers/Microsoft.ResourceGraph/resources`.

It answers the queries moediag sends, from inventory rows the scenarios describe (not a KQL engine): the
rows whose `type` the query names with `type =~ '...'`, in the subscriptions of the request's scope that
the caller may see, ordered by id, paged with an opaque `$skipToken` as the service does (`$top` and the
bed's page size bound a page). Like the service, it leaves out subscriptions the caller has no access to
without saying so; a query naming no type is a 400 (the bed does not guess).

Request (2021-03-01): `{"subscriptions": [...], "managementGroups": [...], "query": "...", "options":
{"$skipToken", "$top", "resultFormat": "objectArray"}}`. Response: `{"totalRecords", "count",
"resultTruncated", "$skipToken", "data": [...], "facets": []}`.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any

from . import arm

PATH = "/providers/Microsoft.ResourceGraph/resources"
_TYPE = re.compile(r"type\s*=~\s*'([^']+)'", re.IGNORECASE)


@dataclass
class ResourceGraph:
    """Rows by subscription; `hidden` subscriptions are invisible to the caller; management group -> subscriptions."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    hidden: set[str] = field(default_factory=set)
    management_groups: dict[str, list[str]] = field(default_factory=dict)
    page_size: int = 1000
    queries: list[dict[str, Any]] = field(default_factory=list)  # request bodies, in order

    def install(self, bed: Any) -> ResourceGraph:
        bed.route("POST", PATH, self.handle)
        return self

    def handle(self, req: Any) -> tuple[int, dict, Any]:
        body = req.json if isinstance(req.json, dict) else {}
        self.queries.append(body)
        query = body.get("query")
        if not isinstance(query, str) or not query.strip():
            return 400, {}, arm.error_body("BadRequest", "The query is required.")
        types = {t.lower() for t in _TYPE.findall(query)}
        if not types:
            return 400, {}, arm.error_body("BadRequest", "The test bed answers only queries that name types with "
                                                         "type =~ '<type>'.")
        groups = [str(g).lower() for g in body.get("managementGroups") or []]
        unknown = [g for g in groups if g not in {m.lower() for m in self.management_groups}]
        if unknown:
            return 404, {}, arm.error_body("ManagementGroupNotFound", f"Management group '{unknown[0]}' not found.")
        if body.get("subscriptions"):
            scope = {str(s).lower() for s in body["subscriptions"]}
        elif groups:
            scope = {s.lower() for m, subs in self.management_groups.items() if m.lower() in groups for s in subs}
        else:
            scope = None  # tenant: every subscription the caller can see
        visible = [r for r in self.rows
                   if str(r.get("type", "")).lower() in types
                   and str(r.get("subscriptionId", "")).lower() not in {h.lower() for h in self.hidden}
                   and (scope is None or str(r.get("subscriptionId", "")).lower() in scope)]
        visible.sort(key=lambda r: str(r.get("id", "")).lower())
        options = body.get("options") or {}
        try:
            start = _offset(options.get("$skipToken"))
        except ValueError:
            return 400, {}, arm.error_body("InvalidSkipToken", "The $skipToken is not valid.")
        top = options.get("$top")
        size = min(self.page_size, top if isinstance(top, int) and top > 0 else self.page_size)
        page = visible[start:start + size]
        answer: dict[str, Any] = {"totalRecords": len(visible), "count": len(page), "resultTruncated": "false",
                                  "data": page, "facets": []}
        if start + size < len(visible):
            answer["$skipToken"] = _token(start + size)
        return 200, {}, answer


def _token(offset: int) -> str:
    return base64.b64encode(json.dumps({"$skip": offset, "bed": True}).encode()).decode()


def _offset(token: Any) -> int:
    if token in (None, ""):
        return 0
    data = json.loads(base64.b64decode(str(token), validate=True))
    if not isinstance(data, dict) or not isinstance(data.get("$skip"), int) or data["$skip"] < 0:
        raise ValueError(token)
    return data["$skip"]
