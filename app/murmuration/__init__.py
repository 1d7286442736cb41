"""Murmuration: a local hub for AI coding agents, many instances side by side."""

__version__ = "0.1.0"
