"""Shared utilities: checkpoint loading, environment report, command-line helpers."""
