"""Learners' accounts: sign-up, sessions, access tokens, preferences, export and erasure."""
