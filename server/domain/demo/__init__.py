"""Demo data: an organisation with a member of every role, for `campotech dev` and `campotech seed demo`."""
