"""Evaluation: offline datasets, graders, a resumable runner, and reports with plots."""
