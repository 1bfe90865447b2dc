"""Domain errors. Each is mapped to an HTTP response once, at the edge."""

from __future__ import annotations


class CairnError(Exception):
    """Base of every error Cairn raises on purpose."""


class ConfigurationError(CairnError):
    """The function's environment is missing or malformed; raised at cold start."""
