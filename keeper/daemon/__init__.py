"""The keeper daemon: configuration, metrics and health, the jobs, and the loop that runs them."""
