"""A small service with the client patterns pool-refactor finds (used by the README and tests)."""
