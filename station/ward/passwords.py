"""Console passwords, hashed with Argon2id (argon2-cffi).

Parameters: OWASP's recommended Argon2id configuration (19 MiB, 2 passes, 1 lane), about
30 ms per check on a 2-core server; the hash carries its parameters, so raising them later
re-hashes each password at its next login. An unknown user name costs the same check as a
known one (no timing hint of which names exist).
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 10
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
_DUMMY = HASHER.hash("not a password of anyone")


class PasswordError(ValueError):
    """A new password that does not meet the rules (message in English and Vietnamese)."""


def check_new(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise PasswordError(
            f"the password needs at least {MIN_LENGTH} characters "
            f"(mật khẩu cần ít nhất {MIN_LENGTH} ký tự)"
        )


def hash_password(password: str) -> str:
    check_new(password)
    return HASHER.hash(password)


def verify(stored: str | None, password: str) -> bool:
    """True when ``password`` matches ``stored`` (None: unknown user, always False)."""
    try:
        HASHER.verify(stored or _DUMMY, password)
    except (VerificationError, InvalidHashError):
        return False
    return stored is not None


def needs_rehash(stored: str) -> bool:
    return HASHER.check_needs_rehash(stored)


__all__ = ["MIN_LENGTH", "PasswordError", "check_new", "hash_password", "needs_rehash", "verify"]
