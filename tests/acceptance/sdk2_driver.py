"""Drive a flow round trip with kestrapy 2.x; run by test_kestrapy20.py in its own venv.

Usage: python sdk2_driver.py <namespace> <flow_id> <v1.yaml> <v2.yaml>
Server and credentials come from the environment (never argv): LANNER_URL, LANNER_USER,
LANNER_PASSWORD. Prints one JSON object: per step, what the SDK returned (as plain values)
and `strict`, the errors of validating the raw response with the SDK's own models (kestrapy
silently falls back to `model_construct` when a response does not validate).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import kestrapy
from kestrapy import KestraClient
from kestrapy.exceptions import ApiException
from kestrapy.models.flow import Flow
from kestrapy.models.flow_with_source import FlowWithSource
from kestrapy.models.paged_results_flow import PagedResultsFlow

TENANT = "main"
MISSING = "<missing>"


def field(obj: Any, name: str) -> Any:
    # A model built by the lenient fallback lacks the attributes the server did not send.
    return getattr(obj, name, MISSING)


def flow_summary(flow: Any) -> dict[str, Any]:
    updated = field(flow, "updated")
    return {
        "model": type(flow).__name__,
        "id": field(flow, "id"),
        "namespace": field(flow, "namespace"),
        "revision": field(flow, "revision"),
        "disabled": field(flow, "disabled"),
        "deleted": field(flow, "deleted"),
        "draft": field(flow, "draft"),
        "source": field(flow, "source"),
        "description": field(flow, "description"),
        "tenantId": (field(flow, "additional_properties") or {}).get("tenantId", MISSING),
        "updated": updated.isoformat() if hasattr(updated, "isoformat") else str(updated),
        "updated_tz": bool(getattr(updated, "tzinfo", None)),
        "labels": [[label.key, label.value] for label in field(flow, "labels") or []],
        "inputs": [[i.id, getattr(i.type, "value", i.type)] for i in field(flow, "inputs") or []],
        "tasks": [
            [t.id, t.type, t.additional_properties.get("message")]
            for t in field(flow, "tasks") or []
        ],
    }


class Recorder:
    """Raw responses the SDK received, through a requests response hook (observation only)."""

    def __init__(self) -> None:
        self.last: Any = None

    def __call__(self, response: Any, *args: Any, **kwargs: Any) -> None:
        self.last = response

    def strict(self, model: Any, *, many: bool = False) -> list[str]:
        request = f"{self.last.request.method} {self.last.request.url}"
        raw = self.last.json()
        errors = []
        for item in raw if many else [raw]:
            try:
                model.from_dict(item)
            except Exception as exc:  # pydantic.ValidationError or the oneOf ValueError
                errors.append(f"{request}: not a valid {model.__name__}: {exc}")
        return errors


def error_summary(exc: ApiException) -> dict[str, Any]:
    return {"exception": type(exc).__name__, "status": exc.status, "body": exc.body}


def main() -> int:
    namespace, flow_id, v1_path, v2_path = sys.argv[1:5]
    v1 = Path(v1_path).read_text()
    v2 = Path(v2_path).read_text()
    client = KestraClient(
        host=os.environ["LANNER_URL"],
        username=os.environ["LANNER_USER"],
        password=os.environ["LANNER_PASSWORD"],
    )
    recorder = Recorder()
    client._session.hooks["response"].append(recorder)
    flows = client.flows
    by_namespace = [{"field": "namespace", "operation": "EQUALS", "value": namespace}]
    out: dict[str, Any] = {"sdk_version": kestrapy.__version__}

    created = flows.create_flow(tenant=TENANT, body=v1)
    out["create"] = flow_summary(created) | {"strict": recorder.strict(FlowWithSource)}

    read = flows.flow(namespace=namespace, id=flow_id, tenant=TENANT, source=True)
    out["get"] = flow_summary(read) | {"strict": recorder.strict(FlowWithSource)}

    updated = flows.update_flow(namespace=namespace, id=flow_id, tenant=TENANT, body=v2)
    out["update"] = flow_summary(updated) | {"strict": recorder.strict(FlowWithSource)}

    first = flows.flow(namespace=namespace, id=flow_id, tenant=TENANT, source=True, revision=1)
    out["get_revision_1"] = flow_summary(first) | {"strict": recorder.strict(FlowWithSource)}

    try:
        flows.create_flow(tenant=TENANT, body=v1)
        out["create_existing"] = {"exception": None}
    except ApiException as exc:
        out["create_existing"] = error_summary(exc)

    page = flows.search_flows(tenant=TENANT, page=1, size=10, filters=by_namespace)
    out["search"] = {
        "model": type(page).__name__,
        "total": field(page, "total"),
        "results": [flow_summary(f) for f in field(page, "results") or []],
        "strict": recorder.strict(PagedResultsFlow),
    }

    listed = flows.list_flows_by_namespace(namespace=namespace, tenant=TENANT)
    out["list"] = {
        "results": [flow_summary(f) for f in listed],
        "strict": recorder.strict(Flow, many=True),
    }

    flows.delete_flow(namespace=namespace, id=flow_id, tenant=TENANT)
    out["delete"] = {"status": recorder.last.status_code}

    try:
        gone = flows.flow(namespace=namespace, id=flow_id, tenant=TENANT, source=True)
        out["get_after_delete"] = {"exception": None, "flow": flow_summary(gone)}
    except ApiException as exc:
        out["get_after_delete"] = error_summary(exc)

    after = flows.search_flows(tenant=TENANT, filters=by_namespace)
    out["search_after_delete"] = {"total": field(after, "total")}

    anonymous = KestraClient(host=os.environ["LANNER_URL"])
    try:
        anonymous.flows.list_flows_by_namespace(namespace=namespace, tenant=TENANT)
        out["anonymous"] = {"exception": None}
    except ApiException as exc:
        out["anonymous"] = error_summary(exc)

    json.dump(out, sys.stdout, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
