"""The device's local store (SQLite via sqlite-utils): the technician's working set, outbox and attachments."""

from client.store.local import LocalStore, StoreError

__all__ = ["LocalStore", "StoreError"]
