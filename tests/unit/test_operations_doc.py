"""docs/operations.md lists every metric the app registers, and docs/reliability.md names only tests that exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from prometheus_client import REGISTRY

import realtime.app  # noqa: F401  (imports every module that defines a metric)

REPO = Path(__file__).resolve().parents[2]


def exposed_names() -> set[str]:
    """The name each convene_ family has on /metrics (counters carry `_total` there)."""
    names = set()
    for family in REGISTRY.collect():
        if family.name.startswith("convene_"):
            names.add(family.name + "_total" if family.type == "counter" else family.name)
    return names


def test_every_registered_convene_metric_is_in_docs_operations() -> None:
    text = (REPO / "docs" / "operations.md").read_text()
    names = exposed_names()
    assert "convene_messages_stored_total" in names and "convene_fanout_seconds" in names
    missing = sorted(name for name in names if f"`{name}`" not in text)
    assert not missing, f"add these metrics to docs/operations.md: {missing}"


def test_every_test_named_in_docs_reliability_exists() -> None:
    text = (REPO / "docs" / "reliability.md").read_text()
    named = re.findall(r"(tests/[\w/]+\.py)::(\w+)", text)
    assert len(named) >= 30
    for path, name in named:
        source = REPO / path
        assert source.exists(), f"docs/reliability.md names {path}, which does not exist"
        functions = {node.name for node in ast.walk(ast.parse(source.read_text()))
                     if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
        assert name in functions, f"docs/reliability.md names {path}::{name}, which does not exist"
