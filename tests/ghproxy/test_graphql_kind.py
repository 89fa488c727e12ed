"""Telling GraphQL mutations (5 points, spaced, content) from queries (1 point)."""

from __future__ import annotations

import json

import pytest

from ghproxy.engine import _is_graphql_mutation


@pytest.mark.parametrize(
    ("query", "mutation"),
    [
        ("{ viewer { login } }", False),
        ("query Q { viewer { login } }", False),
        ("mutation { addComment(input: {}) { clientMutationId } }", True),
        ("# a comment\nmutation M { x }", True),
        ("fragment F on User { login }\nmutation M { x { ...F } }", True),
        ('query Q { repository(name: "mutation") { id } }', False),
    ],
)
def test_kind(query: str, mutation: bool) -> None:
    assert _is_graphql_mutation(json.dumps({"query": query}).encode()) is mutation


def test_unreadable_counts_as_the_costlier_kind() -> None:
    assert _is_graphql_mutation(b"not json")
