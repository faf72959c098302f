"""What a forgotten person's personal data reads as (crypto-shredding, 被遗忘权).

Once a data subject's key is destroyed, persistence decodes their names and identity-document
numbers as `ERASED`, and the read side (masking, exports, archives) must recognise that value and
leave it alone. Both layers read it from here, below them, so neither imports the other.
"""

ERASED = "[erased]"
"""What a personal field reads as once its subject's data key was destroyed."""

WITHHELD = "[withheld]"
"""What a personal field reads as in a process that has no master key and asked for personal
data to be withheld rather than refused (queries that print none: `loan`, `schedule`, ...)."""
