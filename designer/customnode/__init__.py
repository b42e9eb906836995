"""customnode."""
