"""Login sessions: the session cookie, the CSRF token, and the login rate limit.

- A session id is 256 random bits in an HttpOnly, SameSite=Strict cookie; the server keeps
  only its SHA-256, in memory (a restart logs everyone out; in cluster mode pin a browser to
  one console process). Each login issues a new id and drops the one the browser sent, so an
  id planted before login is worthless (session fixation).
- State-changing requests (anything but GET/HEAD/OPTIONS) authenticated by the cookie must send
  the session's CSRF token in the X-CSRF-Token header. Bearer-token API calls are exempt: a
  browser never adds that header by itself.
- Failed logins are counted per (username, client address) and per address; past the limit
  the login answers 429 without checking the password.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import HTTPException, Request, Response, status

from posguard.console.auth import Principal
from posguard.console.users import UserStore

__all__ = ["Session", "SessionManager", "LoginLimiter", "COOKIE", "CSRF_HEADER",
           "SAFE_METHODS"]

COOKIE = "posguard_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _digest(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


@dataclass
class Session:
    """A logged-in browser."""

    username: str
    role: str
    csrf: str
    created: float
    last_seen: float
    address: str = ""


@dataclass
class LoginLimiter:
    """Sliding-window count of failed logins.

    Args:
        per_user: failures allowed per (username, address) within `window` seconds.
        per_address: failures allowed per address within `window` (many usernames tried).
        window: seconds.
        clock: wall time in seconds.
    """

    per_user: int = 5
    per_address: int = 30
    window: float = 300.0
    clock: Callable[[], float] = time.time
    _fails: dict[tuple[str, str], deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        q = self._fails.setdefault(key, deque())
        while q and q[0] <= now - self.window:
            q.popleft()
        return q

    def retry_after(self, username: str, address: str) -> float:
        """Seconds until a login for (username, address) is allowed again; 0 = allowed now."""
        now = self.clock()
        with self._lock:
            waits = [0.0]
            for key, limit in (((username.lower(), address), self.per_user),
                               (("", address), self.per_address)):
                q = self._recent(key, now)
                if len(q) >= limit:
                    waits.append(q[len(q) - limit] + self.window - now)
            return max(waits)

    def failed(self, username: str, address: str) -> None:
        """Count a failed login."""
        now = self.clock()
        with self._lock:
            for key in ((username.lower(), address), ("", address)):
                self._recent(key, now).append(now)
            if len(self._fails) > 100_000:  # forget idle keys rather than grow without bound
                for k in [k for k, q in self._fails.items() if not q]:
                    del self._fails[k]

    def succeeded(self, username: str, address: str) -> None:
        """A right password clears that user's failures from that address."""
        with self._lock:
            self._fails.pop((username.lower(), address), None)


class SessionManager:
    """Sessions of one console process.

    Args:
        users: the account store.
        clock: wall time in seconds.
        idle_timeout: seconds without a request after which a session ends.
        max_age: seconds after login after which a session ends regardless.
        limiter: the failed-login counter.
    """

    def __init__(self, users: UserStore, clock: Callable[[], float] = time.time,
                 idle_timeout: float = 8 * 3600, max_age: float = 24 * 3600,
                 limiter: LoginLimiter | None = None):
        self.users = users
        self.clock = clock
        self.idle_timeout = idle_timeout
        self.max_age = max_age
        self.limiter = limiter or LoginLimiter(clock=clock)
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    # -- login / logout ------------------------------------------------------------------

    def login(self, request: Request, response: Response, username: str,
              password: str) -> Session:
        """Check the password and start a new session (setting the cookie on `response`).

        Raises:
            HTTPException: 429 when rate-limited, 401 on a wrong name or password.
        """
        address = request.client.host if request.client else ""
        wait = self.limiter.retry_after(username, address)
        if wait > 0:
            raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                                "too many failed logins; try again later",
                                headers={"Retry-After": str(int(wait) + 1)})
        user = self.users.verify(username, password)
        if user is None:
            self.limiter.failed(username, address)
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password")
        self.limiter.succeeded(username, address)
        old = request.cookies.get(COOKIE)
        if old:
            self.drop(old)
        sid = secrets.token_urlsafe(32)
        now = self.clock()
        session = Session(username=user.username, role=user.role,
                          csrf=secrets.token_urlsafe(32), created=now, last_seen=now,
                          address=address)
        with self._lock:
            self._expire(now)
            self._sessions[_digest(sid)] = session
        response.set_cookie(COOKIE, sid, httponly=True, samesite="strict", path="/",
                            secure=request.url.scheme == "https",
                            max_age=int(self.max_age))
        return session

    def logout(self, request: Request, response: Response) -> None:
        """End the request's session and clear its cookie."""
        sid = request.cookies.get(COOKIE)
        if sid:
            self.drop(sid)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")

    def drop(self, sid: str) -> None:
        """Forget one session."""
        with self._lock:
            self._sessions.pop(_digest(sid), None)

    def drop_user(self, username: str) -> None:
        """End every session of a user (deleted account, changed password)."""
        with self._lock:
            for k in [k for k, s in self._sessions.items() if s.username == username]:
                del self._sessions[k]

    def set_role(self, username: str, role: str) -> None:
        """Give the open sessions of a user their new role at once."""
        with self._lock:
            for s in self._sessions.values():
                if s.username == username:
                    s.role = role

    # -- per request ---------------------------------------------------------------------

    def _expire(self, now: float) -> None:
        dead = [k for k, s in self._sessions.items()
                if now - s.last_seen > self.idle_timeout or now - s.created > self.max_age]
        for k in dead:
            del self._sessions[k]

    def session_of(self, request: Request) -> Session | None:
        """The live session the request's cookie names, or None."""
        sid = request.cookies.get(COOKIE)
        if not sid:
            return None
        now = self.clock()
        with self._lock:
            key = _digest(sid)
            s = self._sessions.get(key)
            if s is None:
                return None
            if now - s.last_seen > self.idle_timeout or now - s.created > self.max_age:
                del self._sessions[key]
                return None
            s.last_seen = now
            return s

    def resolve(self, request: Request) -> Principal | None:
        """The hook auth.authenticate calls: the cookie's principal, CSRF checked.

        Raises:
            HTTPException: 403 when a state-changing request lacks the session's CSRF token.
        """
        s = self.session_of(request)
        if s is None:
            return None
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not sent or not hmac.compare_digest(sent, s.csrf):
                raise HTTPException(status.HTTP_403_FORBIDDEN, "CSRF token missing or wrong")
        request.state.session = s
        return Principal(s.username, s.role)

    def count(self) -> int:
        """Open sessions (a gauge for /metrics)."""
        with self._lock:
            return len(self._sessions)
