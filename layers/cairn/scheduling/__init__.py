"""Scheduling's pure core: visit types, a practitioner's availability, free slots and booking rules."""
