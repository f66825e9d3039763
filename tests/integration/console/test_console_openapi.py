"""Schemathesis against the node's OpenAPI document: generated requests (with the node's
token, so every route is reachable) must never cause a server error (503 = a part
this node does not run) and every response must
match its declared schema. Streams are left out (they run until max_seconds).

Driven through schemathesis' Python API (each operation's hypothesis strategy) rather than its
pytest plugin, whose fixture loader does not work with this pytest.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from console_testkit import TOKEN, env_for, fill
from hypothesis import HealthCheck, given, settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import schemathesis
    from schemathesis.specs.openapi.checks import response_schema_conformance

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

EXAMPLES = 20


@schemathesis.check
def no_server_error(ctx: Any, response: Any, case: Any) -> bool | None:
    """5xx is a bug, except 503: a part this test's node does not run (ingest, workers)."""
    if response.status_code >= 500 and response.status_code != 503:
        raise AssertionError(f"{response.status_code} from {case.method} {case.path}: "
                             f"{response.text[:300]}")
    return None


def test_api_conforms(store: Any) -> None:
    gen = env_for(store)
    env = next(gen)
    fill(store)
    schema = schemathesis.openapi.from_asgi("/openapi.json", env.app).exclude(
        path_regex=r"/stream$")
    checked = []
    calls = [0]
    for result in schema.get_all_operations():
        op = result.ok()

        @given(case=op.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            calls[0] += 1
            case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"},
                                   checks=[no_server_error, response_schema_conformance])

        run()
        checked.append(f"{op.method.upper()} {op.path}")
    print(f"{len(checked)} operations, {calls[0]} requests")
    gen.close()
    assert "POST /api/incidents/{incident_id}/review" in checked
    assert "GET /api/receipts" in checked
