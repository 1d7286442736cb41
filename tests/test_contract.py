"""The shared numbers and names: each one means one thing, and every listed MCP client is really served."""

from __future__ import annotations

from murmuration import contract
from murmuration.cli.main import build_parser
from murmuration.mcp_bridge.client_config import snippet, where_it_goes


def test_error_codes_are_distinct_and_ours_sit_in_the_server_range() -> None:
    codes = [value for name, value in vars(contract).items() if name.isupper() and isinstance(value, int)]
    rpc = [c for c in codes if c < 0]
    assert len(rpc) == len(set(rpc))
    for code in (contract.SERVER_ERROR, contract.NOT_FOUND, contract.CONFLICT):
        assert -32099 <= code <= -32000
    assert set(contract.CALLER_ERRORS) <= set(rpc)


def test_exit_codes_are_distinct() -> None:
    exits = [value for name, value in vars(contract).items() if name.startswith("EXIT_")]
    assert len(exits) == len(set(exits))


def test_every_mcp_client_has_a_snippet_a_place_and_a_cli_choice() -> None:
    for client in contract.MCP_CLIENTS:
        assert "murmuration-abc" in snippet(client, "abc")
        assert where_it_goes(client).endswith(".")
    args = build_parser().parse_args(["mcp-config", "x"])
    assert args.client == contract.DEFAULT_MCP_CLIENT in contract.MCP_CLIENTS
