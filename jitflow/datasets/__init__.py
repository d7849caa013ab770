"""Data sets the reference programs read (offline)."""
