import pytest

from posguard.ingest.simulator import ChainSimulator
from posguard.model.events import PosEvent
from posguard.model.filters import SearchFlags, StringFilter, event_filter_from_dict
from posguard.model.receipts import TerminalState, assemble


def ev(t: str, ts: int, **kw: object) -> PosEvent:
    return PosEvent(type=t, pos_terminal="T1", ts_in_receipt=ts, ts_received=ts,
                    event_id=f"e{ts}", **kw)  # type: ignore[arg-type]


def run(events: list[PosEvent]) -> list:
    state, done = TerminalState(), []
    for e in events:
        state, d = assemble(state, e)
        done += d
    return done


def test_sale_with_delete_discount_and_payment() -> None:
    done = run([
        ev("POS_CASHIER_LOGIN", 1, cashier_name="Ivanov I"),
        ev("POS_RECEIPT_OPEN", 2, op_id="7"),
        ev("POS_POSITION_ADD_BY_SCANNER", 3, op_id="7", position=1, price=8990),
        ev("POS_POSITION_ADD", 4, op_id="7", position=2, price=5000),
        ev("POS_POSITION_DELETE", 5, op_id="7", position=2, price=5000),
        ev("POS_DISCOUNT_CARD", 6, op_id="7", discount_card="7788"),
        ev("POS_DISCOUNT_RECEIPT", 7, op_id="7", discount=990),
        ev("POS_PAYMENT_CASH", 8, op_id="7", price=10000),
        ev("POS_RECEIPT_CLOSE", 9, op_id="7", price=8000),
    ])
    assert len(done) == 1
    r = done[0]
    assert (r.status, r.total, r.positions, r.deletes, r.discount) == ("closed", 8000, 1, 1, 990)
    assert (r.cashier_name, r.discount_card, r.payment_types) == (
        "Ivanov I", "7788", ["POS_PAYMENT_CASH"])
    assert (r.ts_open, r.ts_close, r.events) == (2, 9, 8)


def test_cancelled_and_torn_receipts() -> None:
    done = run([
        ev("POS_RECEIPT_OPEN", 1, op_id="1"),
        ev("POS_POSITION_ADD", 2, op_id="1", position=1, price=100),
        ev("POS_RECEIPT_CANCEL", 3, op_id="1"),
        ev("POS_RECEIPT_OPEN", 4, op_id="2"),
        ev("POS_POSITION_ADD", 5, op_id="2", position=1, price=100),
        ev("POS_RECEIPT_OPEN", 6, op_id="3"),  # 2 never closed
    ])
    assert [(r.op_id, r.status) for r in done] == [("1", "cancelled"), ("2", "incomplete")]
    assert done[0].total == 0


def test_admin_sign_in_is_seen_by_open_receipt() -> None:
    done = run([ev("POS_RECEIPT_OPEN", 1, op_id="1"), ev("POS_ADMIN_LOGIN", 2),
                ev("POS_RECEIPT_CLOSE", 3, op_id="1")])
    assert done[0].admin_seen


def test_simulated_receipts_balance() -> None:
    sim = ChainSimulator(2, 3, seed=3, fraud_rate=0.2)
    per_terminal: dict[str, TerminalState] = {}
    closed = []
    for e in sim.events(5000, 1_700_000_000_000_000):
        state, done = assemble(per_terminal.setdefault(e.pos_terminal, TerminalState()), e)
        closed += done
    assert closed and {r.status for r in closed} <= {"closed", "cancelled"}
    assert all(r.total >= 0 for r in closed)


def test_filter_dict_accepts_reference_example_shapes() -> None:
    f = event_filter_from_dict({
        "receipt_number": "1234567",
        "text": [StringFilter("Milk", SearchFlags.STARTS_WITH)],
        "cashiers": ("Ivanov I",),
        "events": ["POSNG_POSITION_ADD"],
    })
    assert f.receipt_number == ("1234567",)
    assert f.cashiers == ("Ivanov I",)
    assert f.events == ("POS_POSITION_ADD",)
    assert f.text[0].flags == SearchFlags.STARTS_WITH


@pytest.mark.parametrize("bad,err", [({"cashier": "x"}, KeyError), ({"terminals": 5}, TypeError),
                                     ({"cashiers": [1]}, TypeError)])
def test_filter_dict_refuses_bad_keys_and_types(bad: dict, err: type) -> None:
    with pytest.raises(err):
        event_filter_from_dict(bad)


def test_string_filter_refuses_two_modes() -> None:
    with pytest.raises(ValueError):
        StringFilter("x", SearchFlags.STARTS_WITH | SearchFlags.EXACT)
