"""Checking and explaining version folders: audit (and lineage, diff, reproduce, reports)."""
