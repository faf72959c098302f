"""Report builders (DESIGN §8) and their output formats."""
