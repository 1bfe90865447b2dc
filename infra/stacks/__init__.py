"""Cairn's deployment units: data, API and workflows stacks."""
