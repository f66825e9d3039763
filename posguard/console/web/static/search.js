"use strict";
// Receipt search with the filter dialog; results paged; the same filter exported as CSV.
document.addEventListener("DOMContentLoaded", () => {
  const { el, api, money, time, list, kopecks, inputMicros } = PG;
  const form = document.getElementById("search-form");
  const tbody = document.querySelector("#search-results tbody");
  const count = document.getElementById("search-count");
  const err = document.getElementById("search-error");
  const csv = document.getElementById("csv-link");
  const size = 50;
  let page = 1;

  for (const id of ["contains-events", "not-contains-events"]) {
    const s = document.getElementById(id);
    for (const t of PG.data().event_types || []) s.append(el("option", { value: t }, t.replace(/^POS_/, "")));
  }

  function params() {
    const f = new FormData(form);
    const p = new URLSearchParams();
    const from = inputMicros(f.get("from")), to = inputMicros(f.get("to"));
    if (from) p.set("from", from);
    if (to) p.set("to", to);
    for (const k of ["terminals", "cashiers"]) for (const v of list(f.get(k))) p.append(k, v);
    for (const k of ["receipt_number", "discount_card"]) if (f.get(k)) p.set(k, f.get(k).trim());
    for (const k of ["payment_types", "contains_events", "not_contains_events"]) for (const v of f.getAll(k)) p.append(k, v);
    p.set("contains_mode", f.get("contains_mode") || "all");
    for (const k of ["total", "discount", "change"]) for (const side of ["min", "max"]) {
      const v = kopecks(f.get(`${k}_${side}`));
      if (v !== null) p.set(`${k}_${side}`, v);
    }
    for (const k of ["positions", "duration"]) for (const side of ["min", "max"]) {
      const v = String(f.get(`${k}_${side}`) || "").trim().replace(",", ".");
      if (v) p.set(`${k}_${side}`, v);
    }
    return p;
  }

  async function showReceipt(r) {
    const box = document.getElementById("receipt-view");
    box.classList.remove("hidden");
    document.getElementById("rv-title").textContent = `${r.op_id} · ${r.pos_terminal_name || r.pos_terminal}`;
    const evs = await api("GET", "/api/receipts/events?" + new URLSearchParams({ terminal: r.pos_terminal, op_id: r.op_id, ts: r.ts_close }));
    box.querySelector("tbody").replaceChildren(...evs.map((ev) => el("tr", { class: "line" + (ev.type === "POS_FRAUD" ? " fraud" : "") + (ev.type === "POS_POSITION_DELETE" ? " del" : "") },
      el("td", { class: "t" }, time(ev.ts_in_receipt, false)), el("td", {}, ev.type.replace(/^POS_/, "").toLowerCase()),
      el("td", {}, ev.text || ev.discount_card || ""), el("td", { class: "num" }, ev.price ? money(ev.price) : ""))));
  }

  async function search() {
    err.textContent = "";
    const p = params();
    csv.href = "/api/receipts/export.csv?" + p;
    p.set("page", page); p.set("page_size", size);
    try {
      const res = await api("GET", "/api/receipts?" + p);
      count.textContent = `${res.total} receipt(s)`;
      document.getElementById("page-no").textContent = `page ${page} of ${Math.max(1, Math.ceil(res.total / size))}`;
      tbody.replaceChildren(...res.receipts.map((r) => el("tr", { "data-receipt": r.receipt_id, onclick: () => showReceipt(r) },
        el("td", {}, time(r.ts_close)), el("td", {}, r.store), el("td", {}, r.pos_terminal_name || r.pos_terminal),
        el("td", {}, r.op_id), el("td", {}, r.cashier_name), el("td", { class: "num total" }, money(r.total)),
        el("td", { class: "num" }, money(r.discount)), el("td", { class: "num" }, money(r.change)),
        el("td", { class: "num" }, r.positions), el("td", { class: "num" }, (r.duration / 1e6).toFixed(0) + " s"),
        el("td", {}, r.discount_card), el("td", {}, r.payment_types.map((t) => t.replace(/^POS_PAYMENT_/, "").toLowerCase()).join(", ")),
        el("td", {}, r.status))));
      document.getElementById("prev-page").disabled = page <= 1;
      document.getElementById("next-page").disabled = page * size >= res.total;
    } catch (e) { err.textContent = e.message; }
  }
  form.addEventListener("submit", (e) => { e.preventDefault(); page = 1; search(); });
  document.getElementById("prev-page").addEventListener("click", () => { page = Math.max(1, page - 1); search(); });
  document.getElementById("next-page").addEventListener("click", () => { page += 1; search(); });
  csv.addEventListener("click", () => { csv.href = "/api/receipts/export.csv?" + params(); });
  search();
});
