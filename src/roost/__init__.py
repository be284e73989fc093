"""roost: a local-first, self-hosted AI assistant server."""

__version__ = "0.1.0"
