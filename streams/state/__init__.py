"""Partition-owned state: each kind restored from its topic when a partition is assigned (base.py)."""
