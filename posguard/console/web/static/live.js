"use strict";
// Live view: one card per terminal with its current receipt, fed by /api/live/stream (SSE).
document.addEventListener("DOMContentLoaded", async () => {
  const { el, api, money, time } = PG;
  const box = document.getElementById("terminals");
  const statusEl = document.getElementById("live-status");
  const select = document.getElementById("store-select");
  const terms = new Map(); // terminal -> {info, op, lines: [], incidents: [], closed, cashier}
  const START = new Set(["POS_RECEIPT_OPEN", "POS_RECEIPT_RETURN", "POS_RECEIPT_EXCHANGE", "POS_RECEIPT_PAYOUT"]);
  const END = /^POS_RECEIPT_(CLOSE|SELL_CLOSE|RETURN_CLOSE|EXCHANGE_CLOSE|PAYOUT_CLOSE|CANCEL|CANCEL_WITH_WRITE_OFF|ANNULMENT|INCOMPLETE)$/;
  let es = null;

  try {
    const list = await api("GET", "/api/live/terminals");
    const stores = [...new Set(list.map((t) => t.store))].sort();
    for (const s of stores) select.append(el("option", { value: s }, s || "(no store)"));
    const want = new URLSearchParams(location.search).get("store");
    if (want !== null) select.value = want;
  } catch (e) { statusEl.textContent = e.message; }

  const key = (ev) => ev.event_id || `${ev.pos_terminal}|${ev.ts_in_receipt}|${ev.type}`;

  function term(ev) {
    let t = terms.get(ev.pos_terminal);
    if (!t) {
      t = { id: ev.pos_terminal, name: ev.pos_terminal_name, store: ev.store, channel: ev.associated_channel,
            op: "", lines: [], incidents: [], closed: false, cashier: "", node: null };
      terms.set(ev.pos_terminal, t);
    }
    return t;
  }

  function onEvent(ev) {
    const t = term(ev);
    if (ev.cashier_name) t.cashier = ev.cashier_name;
    if (START.has(ev.type) || (ev.op_id && ev.op_id !== t.op && ev.type.startsWith("POS_POSITION"))) {
      t.op = ev.op_id; t.lines = []; t.incidents = []; t.closed = false;
    }
    if (!ev.op_id || ev.op_id !== t.op) { render(t); return; }
    t.lines.push(ev);
    if (END.test(ev.type)) t.closed = ev.type;
    render(t);
  }

  function onIncident(inc) {
    const t = terms.get(inc.terminal_guid);
    if (!t || inc.op_id !== t.op) return;
    t.incidents = t.incidents.filter((i) => i.id !== inc.id).concat([inc]);
    render(t);
  }

  function render(t) {
    const trig = new Set(t.incidents.flatMap((i) => i.related_events));
    const rows = t.lines.map((ev) => {
      let cls = "line";
      if (trig.has(key(ev))) cls += " trig";
      if (ev.type === "POS_FRAUD") cls += " fraud";
      if (ev.type === "POS_POSITION_DELETE") cls += " del";
      const label = ev.type.replace(/^POS_/, "").toLowerCase().replace(/_/g, " ");
      return el("tr", { class: cls, "data-event-id": key(ev) },
        el("td", { class: "t" }, time(ev.ts_in_receipt, false)),
        el("td", {}, label), el("td", {}, ev.text || ev.discount_card || ""),
        el("td", { class: "num" }, ev.price ? money(ev.price) : ""));
    });
    const card = el("article", { class: "term" + (t.incidents.length ? " alarm" : ""), "data-terminal": t.id, "data-op-id": t.op },
      el("header", {}, el("strong", {}, t.name || t.id), " ", el("span", { class: "muted" }, t.store),
        el("div", { class: "muted" }, `cashier ${t.cashier || "—"} · receipt ${t.op || "—"}`,
          t.closed ? " · " + t.closed.replace(/^POS_RECEIPT_/, "").toLowerCase() : " · open")),
      t.incidents.map((i) => el("a", { class: "badge alarm", href: "/incidents/" + encodeURIComponent(i.id) }, "⚠ " + i.type_name)),
      el("table", { class: "receipt" }, el("tbody", {}, rows)));
    if (t.node) t.node.replaceWith(card); else box.append(card);
    t.node = card;
  }

  function connect() {
    if (es) es.close();
    terms.clear(); box.replaceChildren();
    const q = select.value ? "?store=" + encodeURIComponent(select.value) : "";
    es = new EventSource("/api/live/stream" + q);
    es.onopen = () => { statusEl.textContent = "live"; };
    es.onerror = () => { statusEl.textContent = "reconnecting…"; };
    es.addEventListener("event", (e) => onEvent(JSON.parse(e.data)));
    es.addEventListener("incident", (e) => onIncident(JSON.parse(e.data)));
  }
  select.addEventListener("change", connect);
  connect();
});
