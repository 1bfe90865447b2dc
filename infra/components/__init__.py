"""Cairn's logical units: constructs that the stacks (deployment units) compose."""
