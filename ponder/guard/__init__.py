"""Safety: a hazard taxonomy, fast classifiers, a policy, applied at every stage of a run."""

from pathlib import Path

DATA = Path(__file__).parent / "data"
"""Shipped with the package: the tokenizer, the trained head, and the hand-written training files."""
