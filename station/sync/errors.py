"""The sync area's errors: one base type, messages say which step failed."""

from __future__ import annotations


class SyncError(RuntimeError):
    """Store or sync could not do what was asked (the message says which step)."""


class StoreError(SyncError):
    """The outbox could not be opened or written."""


class StoreFull(StoreError):
    """The outbox refuses new records: record cap reached or disk (nearly) full.

    The station must refuse new reads; stored records are never dropped.
    """


__all__ = ["StoreError", "StoreFull", "SyncError"]
