"""Offline sync rules shared by the server and the client (conflicts: ``shared.sync.conflicts``)."""
