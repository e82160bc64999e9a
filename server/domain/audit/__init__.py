"""The audit log: append-only, hash-chained per organisation (HTTP endpoints come later)."""
