"""Wiring: builds the Temporal client and the activities from settings and runs the worker."""
