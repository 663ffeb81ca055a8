"""Sandbox fixtures (filled in by the sandbox core)."""
