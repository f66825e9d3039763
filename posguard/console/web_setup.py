"""Wire the operator console into a node: accounts, sessions, notifications, first admin.

`install_console(state)` is the one call a process serving the API makes before `create_api`
serves requests: it opens the user store, plugs the session resolver into auth, creates the
notification buffer and, when no account exists, creates "admin" with a random password that
is printed once.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from fastapi import HTTPException, Request, status

from posguard.console.sessions import SessionManager
from posguard.console.state import NodeState
from posguard.console.users import FIRST_ADMIN, UserStore

__all__ = ["Console", "install_console", "console_of", "console_of_request", "CONSOLE_KEY",
           "console_notifier"]

CONSOLE_KEY = "console"
log = logging.getLogger(__name__)


@dataclass
class Console:
    """The console's handles, kept in NodeState.extras["console"]."""

    users: UserStore
    sessions: SessionManager
    clock: Callable[[], float]

    def now_us(self) -> int:
        """Wall time in microseconds."""
        return int(self.clock() * 1_000_000)


def _print_first_password(password: str) -> None:
    print("\n" + "=" * 72 + "\n"
          f"posguard console: created the first account '{FIRST_ADMIN}' with password\n\n"
          f"    {password}\n\n"
          "It is shown only this once. Log in and change it, or create your own admin.\n"
          + "=" * 72 + "\n", file=sys.stdout, flush=True)


def install_console(state: NodeState, *, hasher: PasswordHasher | None = None,
                    clock: Callable[[], float] = time.time,
                    announce: Callable[[str], None] = _print_first_password) -> Console:
    """Make the API's console routes work on `state` (idempotent).

    Args:
        state: the node's shared handles (its backend holds the users table).
        hasher: argon2 parameters; the library defaults unless given (tests pass cheaper).
        clock: wall time in seconds.
        announce: shows the generated first-admin password (default: print to stdout).

    Returns:
        The installed Console.
    """
    existing = state.extras.get(CONSOLE_KEY)
    if isinstance(existing, Console):
        return existing
    from posguard.console.routes.notifications import hub_of

    users = UserStore(state.backend, hasher=hasher, clock=clock)
    sessions = SessionManager(users, clock=clock)
    console = Console(users=users, sessions=sessions, clock=clock)
    state.extras[CONSOLE_KEY] = console
    state.extras["session_resolver"] = sessions.resolve
    state.extras["clock"] = clock
    hub_of(state)
    state.metrics["console"] = lambda: {"sessions": sessions.count(),
                                        "users": len(users.accounts())}
    password = users.ensure_admin()
    if password is not None:
        log.warning("created the first console account %r (password printed once)",
                    FIRST_ADMIN)
        announce(password)
    return console


def console_of(state: NodeState) -> Console:
    """The installed Console, or 503 when the process serves no console."""
    c = state.extras.get(CONSOLE_KEY)
    if not isinstance(c, Console):
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            "console not installed on this node (install_console)")
    return c


def console_of_request(request: Request) -> Console:
    """console_of for a route's request."""
    return console_of(request.app.state.node)


def console_notifier(state: NodeState) -> Callable[[str, str, str], None]:
    """A `notify(level, text, source)` for the script host that shows toasts on this node.

    Example (node.py): start_script_host(..., notify=console_notifier(state)).
    """
    from posguard.console.routes.notifications import notify

    def send(level: str, text: str, source: str) -> None:
        notify(state, level if level in ("message", "alert", "error") else "message",
               text, source)

    return send
