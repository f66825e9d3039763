"""Shared pieces of the console API tests: an installed console on the `store` fixture, one
HTTP client per role, and sample events, receipts and incidents.

(A helper module rather than a conftest.py: test folders here have no __init__.py, and two
folders each with a conftest.py would clash under pytest's default import mode.)
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher

with warnings.catch_warnings():
    # starlette 1.x asks for its httpx fork "httpx2"; plain httpx still works.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from posguard.console.api import create_api
from posguard.console.settings import Settings
from posguard.console.state import NodeState
from posguard.console.web_setup import Console, install_console
from posguard.model.events import PosEvent
from posguard.model.incidents import Incident
from posguard.model.receipts import Receipt
from posguard.store.writer import insert_events, insert_incidents, insert_receipts

T0 = 1_796_000_000_000_000  # microseconds; 2026-11-29
TOKEN = "test-node-token"
PASSWORD = "correct horse battery"
ROLES = ("viewer", "operator", "analyst", "admin")
CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


class Clock:
    """A settable wall clock (seconds)."""

    def __init__(self, t: float = T0 / 1e6 + 3600):
        self.t = t

    def __call__(self) -> float:
        return self.t


@dataclass
class Env:
    state: NodeState
    console: Console
    clock: Clock
    first_password: str
    app: Any
    clients: dict[str, TestClient] = field(default_factory=dict)
    csrf: dict[str, str] = field(default_factory=dict)

    def client(self, role: str) -> TestClient:
        """A client logged in as the user of `role` ("anonymous": none, "token": bearer)."""
        if role in self.clients:
            return self.clients[role]
        c = TestClient(self.app)
        if role == "token":
            c.headers["Authorization"] = f"Bearer {TOKEN}"
        elif role != "anonymous":
            if self.console.users.get(f"u_{role}") is None:
                self.console.users.create(f"u_{role}", role, PASSWORD)
            r = c.post("/api/auth/login", json={"username": f"u_{role}", "password": PASSWORD})
            assert r.status_code == 200, r.text
            self.csrf[role] = r.json()["csrf_token"]
            c.headers["X-CSRF-Token"] = self.csrf[role]
        self.clients[role] = c
        return c


def make_env(store: Any, data: Path | None = None) -> Env:
    """An Env whose node data folder (and so its config file) is `data`, or a new temporary
    folder removed with the Env: never the working directory's posguard-data."""
    clock = Clock()
    temporary = data is None
    data = data or Path(tempfile.mkdtemp(prefix="posguard-console-"))
    state = NodeState(settings=Settings(data=data), backend=store, api_token=TOKEN)
    shown: list[str] = []
    console = install_console(state, hasher=CHEAP, clock=clock, announce=shown.append)
    env = Env(state=state, console=console, clock=clock, first_password=shown[0],
              app=create_api(state))
    if temporary:
        weakref.finalize(env, shutil.rmtree, data, ignore_errors=True)
    return env


def env_for(store: Any) -> Iterator[Env]:
    """Body of each test module's `env` fixture: an Env whose clients are closed after."""
    e = make_env(store)
    yield e
    for c in e.clients.values():
        c.close()


def ev(t: str, term: str, op: str, dt: int, **kw: Any) -> PosEvent:
    return PosEvent(type=t, pos_terminal=term, op_id=op, ts_in_receipt=T0 + dt,
                    ts_received=T0 + dt + 100, event_id=f"{term}-{op}-{dt}",
                    store=kw.pop("store", "S1"), associated_channel=kw.pop("channel", "cam1"),
                    **kw)


def sample_events() -> list[PosEvent]:
    """Receipt 100 on T1 (add, add, delete, cash, close); 200 on T2 (card, discount card)."""
    return [
        ev("POS_RECEIPT_OPEN", "T1", "100", 0, cashier_name="Ivanov I"),
        ev("POS_POSITION_ADD", "T1", "100", 1_000_000, position=1, price=5000, text="Milk",
           cashier_name="Ivanov I"),
        ev("POS_POSITION_ADD", "T1", "100", 2_000_000, position=2, price=7000, text="Beer",
           cashier_name="Ivanov I"),
        ev("POS_POSITION_DELETE", "T1", "100", 3_000_000, position=2, price=7000,
           text="Beer", cashier_name="Ivanov I"),
        ev("POS_PAYMENT_CASH", "T1", "100", 4_000_000, price=5000, cashier_name="Ivanov I"),
        ev("POS_RECEIPT_CLOSE", "T1", "100", 5_000_000, price=5000, cashier_name="Ivanov I"),
        ev("POS_RECEIPT_OPEN", "T2", "200", 0, cashier_name="Petrova A", store="S2"),
        ev("POS_DISCOUNT_CARD", "T2", "200", 500_000, discount_card="7788990011",
           cashier_name="Petrova A", store="S2"),
        ev("POS_PAYMENT_CARD", "T2", "200", 60_000_000, cashier_name="Petrova A", store="S2"),
        ev("POS_RECEIPT_CLOSE", "T2", "200", 61_000_000, price=120000,
           cashier_name="Petrova A", store="S2"),
    ]


def receipt(rid: str, term: str, op: str, **kw: Any) -> Receipt:
    base: dict[str, Any] = {"receipt_id": rid, "pos_terminal": term, "op_id": op,
                            "ts_open": T0, "ts_close": T0 + 5_000_000, "status": "closed",
                            "store": "S1", "cashier_name": "Ivanov I"}
    base.update(kw)
    return Receipt(**base)


def sample_receipts() -> list[Receipt]:
    return [
        receipt("r1", "T1", "100", total=5000, discount=0, change=0, positions=1, deletes=1,
                payment_types=["POS_PAYMENT_CASH"]),
        receipt("r2", "T2", "200", store="S2", cashier_name="Petrova A", total=120000,
                discount=1500, change=500, positions=7, ts_close=T0 + 61_000_000,
                discount_card="7788990011", payment_types=["POS_PAYMENT_CARD"]),
        receipt("r3", "T3", "A-300", total=30000, discount=300, change=2000, positions=3,
                ts_open=T0 + 100_000_000, ts_close=T0 + 130_000_000,
                payment_types=["POS_PAYMENT_CASH", "POS_PAYMENT_CARD"]),
    ]


def incident(iid: str, **kw: Any) -> Incident:
    base: dict[str, Any] = {"id": iid, "detector": "DELNOADM", "type_name": "Delete without admin",
                            "type_id": "PGI00001", "terminal_guid": "T1",
                            "ts_created": T0 + 3_000_100, "cashier_name": "Ivanov I",
                            "store": "S1", "op_id": "100", "associated_channel": "cam1",
                            "related_events": ["T1-100-3000000"],
                            "related_ts": [T0 + 3_000_000]}
    base.update(kw)
    return Incident(**base)


def sample_incidents() -> list[Incident]:
    return [
        incident("i1"),
        incident("i2", detector="LARGEDSC", type_name="Large discount", type_id="PGI00002",
                 terminal_guid="T2", cashier_name="Petrova A", store="S2", op_id="200",
                 ts_created=T0 + 20_000_000, related_events=["T2-200-500000"]),
        incident("i3", ts_created=T0 + 30_000_000, status=1, expert="ann",
                 expert_estimate=700),
        incident("i4", ts_created=T0 + 40_000_000, status=2, expert="bob"),
    ]


def fill(store: Any) -> None:
    insert_events(store, sample_events())
    insert_receipts(store, sample_receipts())
    insert_incidents(store, sample_incidents())
