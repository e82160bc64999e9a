"""Jobs: create, list, read, edit; status moves through the shared state machine; assignment, scheduling."""
