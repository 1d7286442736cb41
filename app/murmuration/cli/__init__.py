"""The `murmuration` command line."""
