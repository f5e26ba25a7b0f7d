"""The embedded stack's own services: what replaces external systems on a single machine."""
