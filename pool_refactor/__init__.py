"""pool-refactor: find HTTP clients created per request and move them onto one shared, pooled client."""

__version__ = "0.1.0"
