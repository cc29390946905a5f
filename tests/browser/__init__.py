"""Headless-Chromium helpers for the report's browser test (no test files here)."""
