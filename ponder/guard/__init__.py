"""Safety: a hazard taxonomy, fast classifiers, a policy, applied at every stage of a run."""
