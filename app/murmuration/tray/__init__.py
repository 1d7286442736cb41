"""The desktop tray app: creates, watches and opens every instance on this machine (ARCHITECTURE.md, "The tray").

It is a client like the CLI: it reaches instances through `murmuration.client`, `murmuration.control`,
`murmuration.registry` and `murmuration.status`, never through `murmuration.core` or `murmuration.server`.
"""
