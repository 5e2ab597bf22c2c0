"""Lanner: a workflow orchestrator that speaks Kestra's REST API and runs Kestra's YAML flows."""

from __future__ import annotations

__version__ = "0.1.0"
