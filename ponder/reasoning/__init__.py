"""Thinking traces: splitting them out of a stream and bounding them with budgets."""
