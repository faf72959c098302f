"""The projection engine and the read models it maintains (DESIGN §4, §8)."""
