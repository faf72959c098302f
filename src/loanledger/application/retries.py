"""How often a command lost to a concurrent writer of the same loan is run again, and how long
racing writers wait between attempts."""

from __future__ import annotations

MAX_COMMAND_ATTEMPTS = 25
"""How often `execute` re-runs a command after losing an optimistic-concurrency race."""

RETRY_BACKOFF_SECONDS = 0.002
RETRY_BACKOFF_MAX_SECONDS = 0.05
"""Jittered exponential backoff between attempts, so that racing writers spread out."""
