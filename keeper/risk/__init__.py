"""Pure risk computation: no I/O, so it can be tested and benchmarked alone."""
