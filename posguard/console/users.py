"""Console user accounts: argon2 password hashes, roles, and the first admin.

Accounts live in ClickHouse (store/users.py), so every console process on one database shares
them; this module caches them and re-reads the table every few seconds. On first start with no
accounts, `ensure_admin` creates "admin" with a random password that the caller prints once:
there is no default password.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Callable

import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from posguard.console.auth import ROLES
from posguard.console.errors import ConsoleError
from posguard.store.backends.base import Backend
from posguard.store.users import UserRow, ensure_users_table, load_users, write_user

__all__ = ["UserStore", "UserError", "UserExists", "UnknownUser", "MIN_PASSWORD_LENGTH",
           "FIRST_ADMIN", "generate_password"]

MIN_PASSWORD_LENGTH = 10
FIRST_ADMIN = "admin"
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


class UserError(ConsoleError):
    """A bad username, role or password."""


class UserExists(UserError):
    """An account with that name exists already."""


class UnknownUser(UserError):
    """No account with that name."""


def generate_password() -> str:
    """A random password (about 144 bits) for a new account."""
    return secrets.token_urlsafe(18)


class UserStore:
    """The accounts of the console.

    Args:
        backend: the ClickHouse store the users table lives in.
        hasher: argon2 parameters (the library's defaults unless given; tests pass cheaper).
        clock: wall time in seconds (injected for tests).
        refresh_seconds: how long the cache is trusted before re-reading the table (other
            console processes may have changed accounts).
    """

    def __init__(self, backend: Backend, hasher: PasswordHasher | None = None,
                 clock: Callable[[], float] = time.time, refresh_seconds: float = 5.0):
        self.backend = backend
        self.hasher = hasher or PasswordHasher()
        self.clock = clock
        self.refresh_seconds = refresh_seconds
        self._lock = threading.RLock()
        ensure_users_table(backend)
        self._users: dict[str, UserRow] = {}
        self._loaded_at = float("-inf")
        # Verified against when the name is unknown, so a wrong name costs as long as a
        # wrong password and response times do not reveal which accounts exist.
        self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(12))
        self.refresh()

    def refresh(self) -> None:
        """Re-read the accounts from the store."""
        with self._lock:
            self._users = load_users(self.backend)
            self._loaded_at = time.monotonic()

    def _current(self) -> dict[str, UserRow]:
        if time.monotonic() - self._loaded_at > self.refresh_seconds:
            self.refresh()
        return self._users

    def accounts(self) -> list[UserRow]:
        """Every account, by name."""
        with self._lock:
            return sorted(self._current().values(), key=lambda u: u.username)

    def get(self, username: str) -> UserRow | None:
        """One account, or None."""
        with self._lock:
            return self._current().get(username)

    def _now(self) -> int:
        return int(self.clock() * 1_000_000)

    def _store(self, row: UserRow, prev: UserRow | None) -> UserRow:
        now = self._now()
        row = UserRow(username=row.username, role=row.role, password_hash=row.password_hash,
                      created=row.created, updated=now, deleted=row.deleted,
                      version=max(now, (prev.version + 1) if prev else 0))
        write_user(self.backend, row)
        if row.deleted:
            self._users.pop(row.username, None)
        else:
            self._users[row.username] = row
        return row

    @staticmethod
    def _check_role(role: str) -> None:
        if role not in ROLES:
            raise UserError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")

    @staticmethod
    def _check_password(password: str) -> None:
        if len(password) < MIN_PASSWORD_LENGTH:
            raise UserError(f"password too short: at least {MIN_PASSWORD_LENGTH} characters")

    def create(self, username: str, role: str, password: str) -> UserRow:
        """Add an account.

        Raises:
            UserError: a bad name, role or a too-short password.
            UserExists: the name is taken.
        """
        if not _NAME.match(username):
            raise UserError("username: 1-64 letters, digits or . _ @ -")
        self._check_role(role)
        self._check_password(password)
        with self._lock:
            self.refresh()
            if username in self._users:
                raise UserExists(f"user {username!r} exists")
            now = self._now()
            return self._store(UserRow(username=username, role=role,
                                       password_hash=self.hasher.hash(password),
                                       created=now, updated=now), None)

    def _existing(self, username: str) -> UserRow:
        self.refresh()
        prev = self._users.get(username)
        if prev is None:
            raise UnknownUser(f"no user {username!r}")
        return prev

    def set_role(self, username: str, role: str) -> UserRow:
        """Change an account's role."""
        self._check_role(role)
        with self._lock:
            prev = self._existing(username)
            return self._store(msgspec.structs.replace(prev, role=role), prev)

    def set_password(self, username: str, password: str) -> UserRow:
        """Change an account's password."""
        self._check_password(password)
        with self._lock:
            prev = self._existing(username)
            return self._store(msgspec.structs.replace(
                prev, password_hash=self.hasher.hash(password)), prev)

    def delete(self, username: str) -> None:
        """Remove an account."""
        with self._lock:
            prev = self._existing(username)
            self._store(msgspec.structs.replace(prev, deleted=True), prev)

    def admins(self) -> list[str]:
        """Names of the admin accounts."""
        return [u.username for u in self.accounts() if u.role == "admin"]

    def verify(self, username: str, password: str) -> UserRow | None:
        """The account when `password` is right, else None (same cost for unknown names)."""
        user = self.get(username)
        try:
            self.hasher.verify(user.password_hash if user else self._dummy_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if user is None:
            return None
        if self.hasher.check_needs_rehash(user.password_hash):
            with self._lock:
                user = self._store(msgspec.structs.replace(
                    user, password_hash=self.hasher.hash(password)), user)
        return user

    def ensure_admin(self) -> str | None:
        """Create the first admin when there are no accounts at all.

        Returns:
            The generated password (show it once), or None when accounts exist.
        """
        with self._lock:
            self.refresh()
            if self._users:
                return None
            password = generate_password()
            self.create(FIRST_ADMIN, "admin", password)
            return password

