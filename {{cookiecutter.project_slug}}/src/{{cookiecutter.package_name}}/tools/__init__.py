"""Support tools beside the core path, each imported only when used: plots of a run, the
comparison of runs, the k-fold summary, and the plain-PyTorch reference."""
