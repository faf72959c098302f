"""The pure domain: no storage, clock or I/O imports (DESIGN §2, principle 4)."""
