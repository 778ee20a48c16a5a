"""Helpers the tests share: import them from here; conftest modules hold only fixtures and hooks."""
