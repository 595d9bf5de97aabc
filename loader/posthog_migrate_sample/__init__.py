"""Realistic sample data for posthog-migrate: a Heap Connect schema (and an Amplitude export) in DuckDB."""
