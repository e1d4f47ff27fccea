"""Lifecycle: the sweeper that tears down what is due, and the scheduler that fires it."""
