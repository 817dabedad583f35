"""Modes: strategies that turn a conversation into an answer (instant, thinking; later contemplate, auto)."""

from ponder.modes.base import Mode, RunRequest, get_mode, modes, run_choices

__all__ = ["Mode", "RunRequest", "get_mode", "modes", "run_choices"]
