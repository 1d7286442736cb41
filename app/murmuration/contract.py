"""The numbers and names every part of Murmuration agrees on, defined once.

Clients, servers and scripts outside this repository depend on these values (a JSON-RPC client branches on
an error code, a shell script on an exit code, a user's config on a client name), so each is written here
only and imported everywhere else. This module imports nothing, so any layer may import it.
"""

from __future__ import annotations

# --- JSON-RPC 2.0 error codes ----------------------------------------------------------------------------------
# The specification's own codes, for messages that are not a well-formed call of a known method.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
# Ours, in the range the specification leaves to servers (-32000 to -32099).
SERVER_ERROR = -32000  # an operation refused for a reason without a code of its own
NOT_FOUND = -32004  # the issue, fragment, process … named does not exist
CONFLICT = -32009  # the request is well-formed but clashes with the current state
DAMAGED = -32010  # the instance's data is damaged: it is read-only until repaired
DISK_FULL = -32011  # the disk holding the data folder is full: nothing was done, retry once there is room
# The answer to a request its caller cancelled before it ended: LSP's RequestCancelled, which JSON-RPC clients know.
REQUEST_CANCELLED = -32800

# --- JSON-RPC requests on one connection ---------------------------------------------------------------------------
# The notification that cancels a request sent earlier on the same connection: {"id": <that request's id>}.
CANCEL = "cancel"
# Requests one connection may have running at once: the server stops reading a connection past it, and the client
# never sends more, so the cancels it sends still get through when every slot holds a wait.
MAX_IN_FLIGHT = 16

# The codes whose message is a sentence about the caller's own request (the caller can fix it), by the
# kind an MCP tool error reports; any other code is the instance's trouble.
CALLER_ERRORS = {INVALID_PARAMS: "invalid_params", NOT_FOUND: "not_found", CONFLICT: "conflict"}

# --- Exit codes of `murmuration …` -----------------------------------------------------------------------------
EXIT_OK = 0
EXIT_ERROR = 1  # anything else, usage errors included (argparse's own 2 would read as "port busy")
EXIT_PORT = 2  # the fixed port asked for is taken
EXIT_LOCKED = 3  # another live server owns the data folder
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT

# --- MCP clients `murmuration mcp-config --client` writes a snippet for ------------------------------------------
MCP_CLIENTS = ("claude-desktop", "claude-code", "vscode")
DEFAULT_MCP_CLIENT = "claude-desktop"
