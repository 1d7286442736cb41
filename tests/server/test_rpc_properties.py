"""A property of the JSON-RPC socket, for every operation in the table: any message gets its due answer.

Valid parameters come from each operation's own JSON Schema, broken ones from arbitrary JSON; whole
messages are mangled too. All of it goes over one real connection to one real `murmuration serve`,
and every request with an id must get exactly one well-formed answer, while the server stays up.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from jsonschema import Draft202012Validator
from websockets.sync.client import ClientConnection, connect

from murmuration.client import socket_url
from murmuration.contract import INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, PARSE_ERROR
from murmuration.datafolder import DataFolder
from murmuration.operations import Operation, build_table
from tests.conftest import ServeProcess, Servers, port_block, range_text

# Operations the fuzzer must never get to run: it only sends them params their schema refuses,
# so their validation is still tested but their handler is not called.
NEVER_RUN = {
    "shutdown",  # stops the very server the test talks to
    "export_knowledge",  # writes (and removes) files at whatever path it is given, anywhere on the machine
    "start_process",  # runs whatever command it is given
}
MIN_VALID_CALLS = 10  # per operation that may run: schema-valid calls that reached it
EXAMPLES_PER_OPERATION = 100
TIMEOUT = 10.0
UNPARSABLE = object()  # what a message decodes to when it is not JSON at all

json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
keys = st.text(max_size=12)


def schema_values(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values valid under `schema`, by hypothesis_jsonschema."""
    return from_schema(schema)


def broken_params(operation: Operation) -> st.SearchStrategy[Any]:
    """Parameters that are mostly wrong: not an object, wrong value types, unknown keys, near-misses."""
    names = sorted(operation.params.get("properties", {}))
    named_keys = st.sampled_from(names) | keys if names else keys
    near_miss = st.tuples(schema_values(operation.params), named_keys, json_values).map(lambda t: {**t[0], t[1]: t[2]})
    return st.one_of(
        json_values.filter(lambda v: not isinstance(v, dict)),
        st.dictionaries(named_keys, json_values, min_size=1, max_size=5),
        near_miss,
    )


def payloads(operation: Operation, *, may_run: bool = True) -> st.SearchStrategy[str | bytes]:
    """What goes on the wire for `operation`: well-formed calls, broken params, mangled messages, batches, noise.

    With `may_run=False` no payload lets the operation's handler run: every call of it has params
    the schema refuses, so only the protocol and the validation are exercised.
    """
    ids = st.integers() | st.text(max_size=10) | st.none()
    bad_ids = (
        st.booleans()
        | st.floats(allow_nan=False)
        | st.lists(json_scalars, max_size=2)
        | st.dictionaries(keys, json_scalars, max_size=2)
    )
    any_params = (schema_values(operation.params) if may_run else st.nothing()) | broken_params(operation)

    def request(request_id: Any, method: Any, params: Any, **fields: Any) -> dict[str, Any]:
        return {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params, **fields}

    valid = st.builds(request, ids, st.just(operation.name), schema_values(operation.params))
    broken = st.builds(request, ids, st.just(operation.name), broken_params(operation))
    mangled = st.one_of(
        # no params at all: the same as {}
        st.builds(lambda i: {"jsonrpc": "2.0", "id": i, "method": operation.name}, ids),
        # notifications: executed, never answered
        st.builds(lambda p: {"jsonrpc": "2.0", "method": operation.name, "params": p}, any_params),
        st.builds(request, bad_ids, st.just(operation.name), any_params),
        st.builds(request, ids, json_values.filter(lambda v: not isinstance(v, str)), any_params),
        st.builds(request, ids, st.text(max_size=20).filter(lambda m: m not in TABLE_NAMES), any_params),
        st.builds(lambda i, p: {"id": i, "method": operation.name, "params": p}, ids, any_params),
        st.builds(
            lambda i, v, p: request(i, operation.name, p, jsonrpc=v),
            ids,
            json_values.filter(lambda v: v != "2.0"),
            any_params,
        ),
        st.builds(
            lambda r, k, v: {**r, k: v}, st.builds(request, ids, st.just(operation.name), any_params), keys, json_values
        ),
        json_values,
    )
    single = (valid if may_run else st.nothing()) | broken | mangled
    wire = weighted(
        (4 if may_run else 0, valid.map(json.dumps)),
        (2, broken.map(json.dumps)),
        (2, mangled.map(json.dumps)),
        (1, st.lists(single, max_size=5).map(json.dumps)),
        (1, st.text(max_size=40)),
        (1, st.binary(max_size=40)),
        (1, single.map(json.dumps).map(lambda text: text[: len(text) // 2])),
    )
    return wire if may_run else wire.filter(lambda payload: not runs_handler(operation, decode(payload)))


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """A choice between strategies with weights (st.one_of drops repeated branches and flattens nested ones)."""
    table = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.sampled_from(table).flatmap(lambda strategy: strategy)


def runs_handler(operation: Operation, message: Any) -> bool:
    """Whether the server would call `operation`'s handler for `message` (or for an element of a batch)."""
    if isinstance(message, list):
        return any(runs_handler(operation, m) for m in message)
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0" or message.get("method") != operation.name:
        return False
    if "id" in message and message["id"] is not None and answer_id(message) is None:
        return False
    params = message.get("params", {})
    return isinstance(params, dict) and Draft202012Validator(operation.params).is_valid(params)


TABLE_NAMES = {operation.name for operation in build_table()} | {"subscribe", "unsubscribe"}


def decode(payload: str | bytes) -> Any:
    try:
        return json.loads(payload)
    except (ValueError, RecursionError):
        return UNPARSABLE


def owes_answer(message: Any) -> bool:
    """JSON-RPC 2.0: every message is answered except a well-formed notification (no id)."""
    return not (
        isinstance(message, dict)
        and "id" not in message
        and message.get("jsonrpc") == "2.0"
        and isinstance(message.get("method"), str)
    )


def answer_id(message: Any) -> Any:
    """The id an answer to `message` must carry: the request's when it is a usable id, else null."""
    request_id = message.get("id") if isinstance(message, dict) else None
    return request_id if isinstance(request_id, (str, int)) and not isinstance(request_id, bool) else None


def check_well_formed(answer: Any) -> None:
    assert isinstance(answer, dict), answer
    assert answer.get("jsonrpc") == "2.0", answer
    assert "id" in answer, answer
    assert ("result" in answer) != ("error" in answer), answer
    if "error" in answer:
        error = answer["error"]
        assert isinstance(error["code"], int), answer
        assert not isinstance(error["code"], bool), answer
        assert isinstance(error["message"], str), answer
        assert error["message"], answer


def check_single(operation: Operation, message: Any, answer: dict[str, Any]) -> bool:
    """Check what the answer to one (non-batch) message says; True when it was a valid call of the operation."""
    assert answer["id"] == answer_id(message), (message, answer)
    if message is UNPARSABLE:
        assert answer["error"]["code"] == PARSE_ERROR, answer
        return False
    well_formed = (
        isinstance(message, dict) and message.get("jsonrpc") == "2.0" and message.get("id") == answer_id(message)
    )
    if not well_formed or not isinstance(message.get("method"), str):
        assert answer["error"]["code"] == INVALID_REQUEST, (message, answer)
        return False
    params = message.get("params", {})
    if message["method"] != operation.name:
        assert message["method"] not in TABLE_NAMES
        # Either fault may be named first when both the method and the params are wrong.
        allowed = {METHOD_NOT_FOUND} if isinstance(params, dict) else {METHOD_NOT_FOUND, INVALID_PARAMS}
        assert answer["error"]["code"] in allowed, (message, answer)
        return False
    if not isinstance(params, dict):
        assert answer["error"]["code"] == INVALID_PARAMS, (message, answer)
        assert answer["error"]["data"]["field"] == "params", answer
        return False
    error = answer.get("error")
    if not Draft202012Validator(operation.params).is_valid(params):
        assert error is not None, (message, answer)
        assert error["code"] == INVALID_PARAMS, (message, answer)
        field = error["data"]["field"]
        assert isinstance(field, str), answer
        named = set(params) | set(operation.params.get("properties", {})) | {"params"}
        # A dotted path into the params (a key may itself hold dots).
        assert field in named or field.split(".")[0] in named, (message, answer)
        return False
    # Valid parameters: a result, or an error the caller can act on — never an internal error.
    if error is not None:
        assert error["code"] not in (PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INTERNAL_ERROR), answer
        if error["code"] == INVALID_PARAMS:
            assert isinstance(error["data"]["field"], str), answer
    return True


def exchange(connection: ClientConnection, payload: str | bytes) -> list[Any]:
    """Send `payload` and return what the server sent for it.

    When an answer is owed, that answer; otherwise everything that arrives before a marker call's
    answer (which shows the server has dealt with the payload). A second answer to one payload shows
    up in the next exchange, or in the last `until_marker` of `fuzz`.
    """
    connection.send(payload)
    if owes(payload):
        return [json.loads(connection.recv(timeout=TIMEOUT))]
    return until_marker(connection)


def until_marker(connection: ClientConnection) -> list[Any]:
    """Everything the server sends before the answer to a marker call sent now."""
    marker = f"marker-{uuid.uuid4().hex}"
    connection.send(json.dumps({"jsonrpc": "2.0", "id": marker, "method": "get_instance_info"}))
    received: list[Any] = []
    while True:
        answer = json.loads(connection.recv(timeout=TIMEOUT))
        if isinstance(answer, dict) and answer.get("id") == marker:
            assert "result" in answer, answer
            return received
        received.append(answer)


def owes(payload: str | bytes) -> bool:
    """Whether the server owes a reply (one message, an object or a batch list) for the whole payload."""
    message = decode(payload)
    if isinstance(message, list) and 0 < len(message) <= 100:
        return any(owes_answer(m) for m in message)
    return owes_answer(message)


def check_exchange(operation: Operation, payload: str | bytes, received: list[Any]) -> bool:
    """Check the answers to one payload; True when it was a single valid call of the operation."""
    message = decode(payload)
    if not owes(payload):
        assert received == [], (payload, received)
        return False
    assert len(received) == 1, (payload, received)
    [reply] = received
    if isinstance(message, list) and message:
        if len(message) > 100:
            check_well_formed(reply)
            assert reply["error"]["code"] == INVALID_REQUEST
            return False
        # A batch: one answer per element that owes one, in any order.
        assert isinstance(reply, list), (payload, reply)
        for answer in reply:
            check_well_formed(answer)
        expected = Counter(json.dumps(answer_id(m)) for m in message if owes_answer(m))
        assert Counter(json.dumps(a["id"]) for a in reply) == expected, (payload, reply)
        return False
    check_well_formed(reply)
    if message == []:
        assert reply["error"]["code"] == INVALID_REQUEST, reply
        return False
    return check_single(operation, message, reply)


def fuzz(connection: ClientConnection, operation: Operation) -> None:
    may_run = operation.name not in NEVER_RUN
    valid_calls = 0

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )
    @given(payload=payloads(operation, may_run=may_run))
    def any_payload_gets_its_due_answer(payload: str | bytes) -> None:
        nonlocal valid_calls
        if not may_run:
            assert not runs_handler(operation, decode(payload))
        valid_calls += check_exchange(operation, payload, exchange(connection, payload))

    any_payload_gets_its_due_answer()
    assert until_marker(connection) == [], f"answers nobody asked for after fuzzing {operation.name}"
    if may_run:
        # The schema-valid side was really exercised, not filtered away.
        assert valid_calls >= MIN_VALID_CALLS, f"only {valid_calls} valid calls of {operation.name}"


@dataclass
class Target:
    """The one server a module's fuzzing talks to, and how to open a connection to it."""

    server: ServeProcess
    url: str
    options: dict[str, Any]


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """One real `murmuration serve` for every operation's fuzzing (per xdist worker), in a folder of its own.

    Sharing it is safe: no operation it may run stops it, and the property holds whatever state earlier
    operations left behind. Its working folder is the module's, so relative paths in fuzzed params land there.
    """
    root = tmp_path_factory.mktemp("props")
    env = {"MURMURATION_HOME": str(root / "home"), "MURMURATION_PORT_RANGE": range_text(port_block(6))}
    pool = Servers()
    try:
        server = pool.start("--data-dir", str(root / "data"), env=env, cwd=root)
        runtime = DataFolder(root / "data").read_runtime()
        assert runtime is not None
        # No keepalive pings: their payload comes from the `random` module, in a thread that runs while
        # Hypothesis draws examples, and Hypothesis takes that for a strategy using `random` (a page-long warning).
        options: dict[str, Any] = {
            "additional_headers": {"Authorization": f"Bearer {runtime.token}"},
            "open_timeout": TIMEOUT,
            "ping_interval": None,
        }
        yield Target(server, socket_url(runtime.url), options)
    finally:
        pool.end_all()


OPERATIONS = list(build_table())


def test_the_table_has_operations_to_fuzz() -> None:
    assert {op.name for op in OPERATIONS} >= {"get_instance_info", "create_login_code"}


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.name)
def test_every_operation_answers_every_message_exactly_once(target: Target, operation: Operation) -> None:
    with connect(target.url, **target.options) as connection:
        fuzz(connection, operation)
        # The connection still works, and the process is alive.
        reply = json.loads(last_call(connection))
        assert reply["result"]["pid"] == target.server.proc.pid
    assert target.server.proc.poll() is None


def last_call(connection: ClientConnection) -> str:
    connection.send(json.dumps({"jsonrpc": "2.0", "id": "last", "method": "get_instance_info"}))
    return str(connection.recv(timeout=TIMEOUT))
