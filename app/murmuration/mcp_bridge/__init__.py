"""`murmuration mcp`: the stdio MCP server that gives agents their instance's tools over its JSON-RPC socket."""
