"""ponder: a small, fast, local reasoning assistant (OpenAI-compatible API, CLI and web UI)."""

__version__ = "0.1.0"
