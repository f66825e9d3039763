"""Synthetic chain events generated inside chDB (INSERT ... SELECT FROM numbers), for search.

Python cannot build 100 million PosEvents in minutes; the engine can. Event n belongs to
receipt n // 15 (slot n % 15: open, eleven position lines, subtotal or discount card, payment,
close or cancel); receipts go round-robin over the terminals, so each terminal's receipts are
evenly spread over the period and its events stay in time order. Every column of the events
table is filled:

- 1,000 terminals (8-character GUIDs) in 100 stores; each terminal has three cashiers who
  rotate by day, so 3,000 cashiers;
- receipt numbers count up per terminal from a per-terminal start, so one number occurs at a
  handful of terminals at different times, as in a real chain;
- items from a 2,000-name vocabulary (100 products x 20 brands), popularity skewed (a few
  sell most), keyed items have no barcode, weighed goods carry a weight;
- event types in realistic shares: ~1.5 % deletes, 3 % line discounts, 2 % returns, 1 %
  cancels, 30 % discount cards, 60 % card payments;
- timestamps spread over `days` days (round the clock: no opening hours), reception a few
  hundred milliseconds after the event.
Receipt totals (subtotal, payment and close prices) are drawn, not summed from the lines.

Only our own constants enter the SQL, and those go in as query parameters too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from posguard.store.backends.base import Backend
from posguard.store.schema import EVENT_COLUMNS

__all__ = ["Layout", "GenStats", "generate_events", "sample_values", "PRODUCTS", "BRANDS",
           "SURNAMES", "EVENTS_PER_RECEIPT"]

EVENTS_PER_RECEIPT = 15
DAY_US = 86_400_000_000

# (name, price per unit in kopecks, sold by weight)
PRODUCTS: tuple[tuple[str, int, bool], ...] = (
    ("Milk 3.2% 1l", 8990, False), ("Milk 2.5% 0.9l", 7490, False),
    ("Kefir 1% 0.9l", 6990, False), ("Buttermilk 1.5% 0.95l", 5199, False),
    ("Yoghurt strawberry 125g", 3990, False), ("Sour cream 20% 300g", 11990, False),
    ("Cottage cheese 5% 200g", 10990, False), ("Butter 82.5% 180g", 18990, False),
    ("Cheese Gouda", 79900, True), ("Cheese Russian", 69900, True),
    ("Eggs C1 10pcs", 10990, False), ("Eggs C0 10pcs", 12990, False),
    ("Bread rye 500g", 4590, False), ("Bread wheat sliced", 5290, False),
    ("Baguette", 3900, False), ("Croissant", 5990, False), ("Buns sesame 4pcs", 6990, False),
    ("Bananas", 12990, True), ("Apples Gala", 15990, True), ("Apples Golden", 14990, True),
    ("Oranges", 16990, True), ("Lemons", 19990, True), ("Grapes white", 29990, True),
    ("Pears Conference", 21990, True), ("Tomatoes", 24990, True), ("Cucumbers", 19990, True),
    ("Potatoes", 4990, True), ("Onions", 3990, True), ("Carrots", 4590, True),
    ("Cabbage", 2990, True), ("Peppers red", 34990, True), ("Garlic", 29990, True),
    ("Chicken breast", 38990, True), ("Chicken legs", 24990, True),
    ("Pork neck", 59990, True), ("Beef mince 400g", 34990, False),
    ("Sausages milk 450g", 27990, False), ("Ham sliced 150g", 18990, False),
    ("Salmon fillet", 189900, True), ("Herring salted", 39990, True),
    ("Shrimps frozen 500g", 69900, False), ("Dumplings 800g", 42990, False),
    ("Pasta spaghetti 450g", 8990, False), ("Pasta penne 450g", 8990, False),
    ("Rice long grain 900g", 11990, False), ("Buckwheat 900g", 12990, False),
    ("Oat flakes 500g", 7990, False), ("Flour wheat 2kg", 10990, False),
    ("Sugar 1kg", 8990, False), ("Salt 1kg", 2990, False), ("Sunflower oil 1l", 15990, False),
    ("Olive oil 0.5l", 79900, False), ("Mayonnaise 400g", 10990, False),
    ("Ketchup 350g", 12990, False), ("Tomato paste 140g", 6990, False),
    ("Peas canned 400g", 9990, False), ("Corn canned 340g", 10990, False),
    ("Tuna canned 185g", 18990, False), ("Coffee beans 1kg", 159900, False),
    ("Coffee instant 95g", 39990, False), ("Tea black 100 bags", 24990, False),
    ("Tea green 25 bags", 14990, False), ("Cocoa 100g", 19990, False),
    ("Chocolate dark 90g", 11990, False), ("Chocolate milk 90g", 10990, False),
    ("Chocolate bar nuts", 7990, False), ("Cookies oat 300g", 12990, False),
    ("Crackers 200g", 8990, False), ("Chips paprika 140g", 17990, False),
    ("Candies assorted", 69900, True), ("Ice cream vanilla", 9990, False),
    ("Water still 1.5l", 4990, False), ("Water sparkling 1.5l", 5490, False),
    ("Orange juice 1l", 15990, False), ("Apple juice 1l", 14990, False),
    ("Cola 1.5l", 14990, False), ("Lemonade 0.5l", 7990, False),
    ("Energy drink 0.45l", 11990, False), ("Beer lager 0.5l", 8990, False),
    ("Beer dark 0.5l", 10990, False), ("Cider 0.45l", 12990, False),
    ("Wine red dry 0.75l", 69900, False), ("Wine white dry 0.75l", 64900, False),
    ("Sparkling wine 0.75l", 89900, False), ("Vodka 0.5l", 49900, False),
    ("Cognac 5y 0.5l", 149900, False), ("Whisky 0.7l", 249900, False),
    ("Cigarettes", 21000, False), ("Detergent 3kg", 89900, False),
    ("Dish soap 500ml", 14990, False), ("Toilet paper 8 rolls", 29990, False),
    ("Paper towels 2 rolls", 17990, False), ("Toothpaste", 19990, False),
    ("Toothbrush", 12990, False), ("Shampoo 400ml", 29990, False),
    ("Shower gel 250ml", 21990, False), ("Soap 90g", 4990, False),
    ("Batteries AA 4pcs", 34900, False), ("Cat food 85g", 3490, False),
    ("Dog food 2kg", 89900, False),
)
BRANDS = ("Prostor", "Selo", "Zarechye", "Dobry", "Fresh Line", "Vkusno", "Severny",
          "Morozko", "Lugovoe", "Sady", "Gold", "Premium", "Eco", "Domik", "Krasnaya",
          "Ural", "Volga", "Altai", "Baltika", "Nord")
SURNAMES = (
    "Ivanov", "Petrova", "Sidorov", "Smirnova", "Kuznetsov", "Popova", "Vasiliev", "Novikova",
    "Morozov", "Volkova", "Sokolov", "Lebedeva", "Kozlov", "Egorova", "Pavlov", "Orlova",
    "Semenov", "Golubeva", "Vinogradov", "Bogdanova", "Fedorov", "Mikhailova", "Belyaev",
    "Tarasova", "Belov", "Komarova", "Zaitsev", "Kiseleva", "Makarov", "Andreeva", "Kovalev",
    "Ilyina", "Gusev", "Titova", "Kuzmin", "Kudryavtseva", "Baranov", "Kulikova", "Alekseev",
    "Stepanova", "Yakovlev", "Sorokina", "Sergeev", "Romanova", "Zakharov", "Borisova",
    "Korolev", "Gerasimova", "Ponomarev", "Grigorieva", "Lazarev", "Medvedeva", "Ershov",
    "Nikitina", "Sobolev", "Ryabova", "Polyakov", "Tsvetkova", "Danilov", "Zhukova",
)


@dataclass(frozen=True)
class Layout:
    """Where the generated events lie: the sizes that decide every row.

    Attributes:
        n_events: events in the whole data set.
        terminals: terminals (three cashiers each).
        days: the period, from `t0` (microseconds).
        t0: the first receipt's opening time.
    """

    n_events: int
    terminals: int = 1000
    days: int = 30
    t0: int = 1_796_000_000_000_000

    @property
    def receipts_per_terminal(self) -> int:
        receipts = -(-self.n_events // EVENTS_PER_RECEIPT)
        return max(1, -(-receipts // self.terminals))

    @property
    def receipt_gap_us(self) -> int:
        """Time between two receipts of one terminal."""
        return self.days * DAY_US // self.receipts_per_terminal

    @property
    def event_gap_us(self) -> int:
        """Time between two events of one receipt (at most 5 s; receipts never overlap)."""
        return min(5_000_000, self.receipt_gap_us // (EVENTS_PER_RECEIPT + 2))

    @property
    def t1(self) -> int:
        """A bound after the last reception time."""
        return self.t0 + self.days * DAY_US + DAY_US


@dataclass(frozen=True)
class GenStats:
    """What generating cost: seconds, rows, bytes on disk (compressed), active parts."""

    seconds: float
    rows: int
    bytes_on_disk: int
    parts: int


# The per-row expressions. n: event number; r: receipt; k: slot in the receipt; t: terminal;
# seq: the terminal's receipt number; hr/he: per-receipt and per-event random bits.
_INNER = """
SELECT
    number AS n,
    intDiv(n, 15) AS r,
    n % 15 AS k,
    r % {terminals:UInt32} AS t,
    intDiv(r, {terminals:UInt32}) AS seq,
    cityHash64(r, 7) AS hr,
    cityHash64(n, 3) AS he,
    he % 10000 AS u,
    hr % 100 < 2 AS is_return,
    hr % 1000 BETWEEN 20 AND 29 AS is_cancel,
    intDiv(hr, 1024) % 100 < 30 AS has_card,
    intDiv(hr, 1048576) % 100 < 60 AS pays_card,
    toUInt32(2000 * pow((intDiv(he, 65536) % 1000000) / 1e6, 3)) AS g,
    g % 100 AS prod,
    intDiv(g, 100) AS brand,
    {t0:Int64} + toInt64(seq) * {receipt_gap:Int64}
        + toInt64(cityHash64(t, seq) % {jitter:UInt64}) + k * {event_gap:Int64} AS ts,
    intDiv(ts - {t0:Int64}, 86400000000) AS day,
    t * 3 + day % 3 AS cashier,
    multiIf(
        k = 0, if(is_return, 'POS_RECEIPT_RETURN', 'POS_RECEIPT_OPEN'),
        k <= 11, multiIf(u < 150, 'POS_POSITION_DELETE', u < 450, 'POS_DISCOUNT_POSITION',
                         u < 500, 'POS_POSITION_PRICE_CHANGE', u < 2000, 'POS_POSITION_ADD',
                         'POS_POSITION_ADD_BY_SCANNER'),
        k = 12, if(has_card, 'POS_DISCOUNT_CARD', 'POS_SUBTOTAL'),
        k = 13, if(pays_card, 'POS_PAYMENT_CARD', 'POS_PAYMENT_CASH'),
        is_cancel, 'POS_RECEIPT_CANCEL',
        if(is_return, 'POS_RECEIPT_RETURN_CLOSE', 'POS_RECEIPT_CLOSE')) AS typ,
    typ IN ('POS_POSITION_ADD', 'POS_POSITION_ADD_BY_SCANNER', 'POS_POSITION_PRICE_CHANGE')
        AS is_item,
    {weighed:Array(UInt8)}[prod + 1] = 1 AS weighed,
    {prices:Array(Int64)}[prod + 1] + toInt64(brand) * 300 AS ppu,
    if(intDiv(he, 1099511627776) % 10 = 0, 2 + intDiv(he, 17592186044416) % 3, 1) AS qty,
    150 + intDiv(he, 256) % 2350 AS grams,
    10000 + toInt64(hr % 900000) AS total,
    upper(substring(hex(cityHash64('terminal', t)), 1, 8)) AS guid,
    intDiv(t, 10) + 1 AS store_no,
    t % 10 + 1 AS till
FROM numbers_mt({start:UInt64}, {count:UInt64})
"""

_OUTER = {
    "event_id": "concat(lower(substring(hex(cityHash64('ingest', intDiv(n, 10000000))), 1, 10)),"
                " '-', toString(n + 1))",
    "type": "typ",
    "pos_terminal": "guid",
    "pos_terminal_name": "concat('Store ', toString(store_no), ' till ', toString(till))",
    "store": "concat('store-', toString(store_no))",
    "associated_channel": "concat('cam-', toString(store_no), '-', toString(till))",
    "location": "concat('checkout ', toString(till))",
    "op_id": "leftPad(toString(cityHash64('op', t) % 900000 + seq + 1), 7, '0')",
    "cashier_name": "concat({surnames:Array(String)}[cashier % 60 + 1], ' ',"
                    " char(65 + intDiv(cashier, 60) % 26), '.', char(65 + intDiv(cashier, 1560)"
                    " % 26), '.')",
    "position": "toInt32(if(k BETWEEN 1 AND 11, k, 0))",
    "text": "if(is_item, concat({products:Array(String)}[prod + 1], ' ',"
            " {brands:Array(String)}[brand + 1]), '')",
    "article": "if(is_item, concat('A', leftPad(toString(g), 5, '0')), '')",
    "barcode": "if(is_item AND typ != 'POS_POSITION_ADD',"
               " concat('46', leftPad(toString(g * 7919 % 100000000000), 11, '0')), '')",
    "price": "multiIf(is_item, if(weighed, intDiv(ppu * grams, 1000), ppu * qty),"
             " typ = 'POS_POSITION_DELETE', ppu,"
             " typ IN ('POS_DISCOUNT_POSITION', 'POS_DISCOUNT_CARD'), 0,"
             " k >= 12, total, 0)",
    "price_per_unit": "if(is_item, ppu, 0)",
    "quantity": "toInt64(if(is_item, if(weighed, 1, qty), 0))",
    "weight": "toInt64(if(is_item AND weighed, grams, 0))",
    "discount": "toInt64(if(typ = 'POS_DISCOUNT_POSITION', intDiv(ppu * (5 + u % 20), 100), 0))",
    "discount_card": "if(typ = 'POS_DISCOUNT_CARD',"
                     " concat('7788', leftPad(toString(intDiv(hr, 1073741824) % 200000), 8, '0')),"
                     " '')",
    "flags": "toUInt32(0)",
    "volume": "toInt64(0)",
    "ts_in_receipt": "ts",
    "ts_received": "ts + 20000 + toInt64(he % 400000)",
    "kafka_topic_id": "'bench-pos.events'",
    "kafka_partition": "toInt32(cityHash64(guid) % 8)",
    "kafka_offset": "toInt64(n)",
}


def insert_sql(database: str) -> str:
    """The INSERT of one block of generated events (parameters: see `_params`)."""
    assert set(_OUTER) == set(EVENT_COLUMNS), "fill every column of the schema"
    cols = ", ".join(EVENT_COLUMNS)
    exprs = ",\n    ".join(_OUTER[c] for c in EVENT_COLUMNS)
    return f"INSERT INTO {database}.events ({cols})\nSELECT\n    {exprs}\nFROM ({_INNER})"


def _params(layout: Layout, start: int, count: int) -> dict[str, Any]:
    return {
        "terminals": layout.terminals, "t0": layout.t0, "receipt_gap": layout.receipt_gap_us,
        "event_gap": layout.event_gap_us,
        "jitter": max(1, layout.receipt_gap_us - EVENTS_PER_RECEIPT * layout.event_gap_us),
        "start": start, "count": count,
        "weighed": [int(w) for _, _, w in PRODUCTS], "prices": [p for _, p, _ in PRODUCTS],
        "products": [name for name, _, _ in PRODUCTS], "brands": list(BRANDS),
        "surnames": list(SURNAMES),
    }


def generate_events(backend: Backend, layout: Layout, block: int = 10_000_000,
                    progress: Any = None) -> GenStats:
    """Fill `backend`'s events table with `layout.n_events` generated events.

    Args:
        backend: a migrated store (its events table is written to).
        layout: the data set's sizes.
        block: events per INSERT (each INSERT streams; this bounds one statement's work).
        progress: optional callable(rows_done, seconds) after each block.

    Returns:
        Time taken, rows, compressed bytes on disk and active parts afterwards.
    """
    sql = insert_sql(backend.database)
    t = time.perf_counter()
    for start in range(0, layout.n_events, block):
        count = min(block, layout.n_events - start)
        backend.command(sql, _params(layout, start, count), settings={"max_insert_threads": 2})
        if progress is not None:
            progress(start + count, time.perf_counter() - t)
    seconds = time.perf_counter() - t
    rows, size, parts = backend.query(
        "SELECT sum(rows), sum(bytes_on_disk), count() FROM system.parts "
        "WHERE database = {db:String} AND table = 'events' AND active",
        {"db": backend.database}).rows[0]
    return GenStats(seconds, int(rows), int(size), int(parts))


def sample_values(backend: Backend, k: int, seed: int = 1) -> dict[str, list[str]]:
    """`k` stored values of each searchable column, from `k` pseudo-random item events.

    Returns:
        {"op_id": [...], "cashier_name": [...], "pos_terminal": [...], "text": [...]}:
        values that occur in the data, so every search finds something.
    """
    rows = backend.query(
        f"SELECT op_id, cashier_name, pos_terminal, text FROM {backend.database}.events "
        "WHERE text != '' ORDER BY cityHash64(event_id, {seed:UInt64}) LIMIT {k:UInt64}",
        {"seed": seed, "k": k}).rows
    cols = ("op_id", "cashier_name", "pos_terminal", "text")
    return {c: [str(r[i]) for r in rows] for i, c in enumerate(cols)}
