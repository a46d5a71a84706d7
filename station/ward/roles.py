"""The console's two roles: an officer works with records, an admin with stations, users,
retention and the audit log (and sees no citizen's data)."""

from __future__ import annotations

OFFICER = "officer"
ADMIN = "admin"
ROLES = (OFFICER, ADMIN)

__all__ = ["ADMIN", "OFFICER", "ROLES"]
