"""Shared plumbing every domain may use: ids, the clock, errors and settings."""
