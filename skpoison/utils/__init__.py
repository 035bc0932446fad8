"""Internal utilities shared by the estimator families."""
