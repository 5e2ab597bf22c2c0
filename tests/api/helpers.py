"""Shared helpers of the API tests."""

from __future__ import annotations


def flow_yaml(namespace: str, flow_id: str = "hello", message: str = "Hello", **extra: str) -> str:
    lines = [f"id: {flow_id}", f"namespace: {namespace}"]
    lines += [f"{key}: {value}" for key, value in extra.items()]
    lines += [
        "tasks:",
        "  - id: say",
        "    type: io.kestra.plugin.core.log.Log",
        f"    message: {message}",
    ]
    return "\n".join(lines) + "\n"


YAML = {"Content-Type": "application/x-yaml"}
