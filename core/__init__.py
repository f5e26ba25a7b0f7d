"""Shared plumbing: settings, the Temporal client factory, the database engine and tables."""
