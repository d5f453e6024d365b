"""Support tools beside the core path, each imported only when used: plots of a run, the
comparison of runs, the summary of an Optuna study, and the plain-PyTorch reference."""
