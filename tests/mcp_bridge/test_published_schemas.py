"""What tools/list publishes of the operation table's schemas is looser, never stricter: a published inputSchema
accepts every call the instance takes, and a published outputSchema every result the instance may give."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis_jsonschema import from_schema
from jsonschema import Draft202012Validator

from murmuration.mcp_bridge.tools import LEFT_OUT, input_schema, listed_operations, output_schema
from murmuration.operations import Operation, build_table

OPERATIONS = listed_operations(build_table())


def keywords(schema: Any) -> set[str]:
    if isinstance(schema, list):
        return set().union(*map(keywords, schema)) if schema else set()
    if not isinstance(schema, dict):
        return set()
    found = {k for k, v in schema.items() if k != "additionalProperties" or v is False}
    for key, value in schema.items():
        inner = value.values() if key == "properties" else [value]
        for item in inner:
            found |= keywords(item)
    return found


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda o: o.name)
def test_a_published_input_schema_takes_every_call_the_instance_takes(operation: Operation) -> None:
    published = Draft202012Validator(input_schema(operation))
    assert not keywords(input_schema(operation)) & LEFT_OUT, "a guard left in tools/list"

    @settings(max_examples=8, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    # Filtered by the table's own validator: hypothesis-jsonschema does not know every keyword (dependentRequired).
    @given(params=from_schema(operation.params).filter(Draft202012Validator(operation.params).is_valid))
    def accepted(params: dict[str, Any]) -> None:
        assert [e.message for e in published.iter_errors(params)] == []

    accepted()


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda o: o.name)
def test_a_published_output_schema_takes_every_result_the_table_promises(operation: Operation) -> None:
    assert operation.result is not None
    published = Draft202012Validator(output_schema(operation.result))
    assert "web_url" not in published.schema.get("required", [])  # the instructions say it once for every result

    @settings(max_examples=3, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(result=from_schema(operation.result).filter(Draft202012Validator(operation.result).is_valid))
    def accepted(result: dict[str, Any]) -> None:
        assert [e.message for e in published.iter_errors(result)] == []

    accepted()
