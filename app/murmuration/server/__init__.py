"""The instance server: adapts the operations to HTTP and a WebSocket (websockets)."""
