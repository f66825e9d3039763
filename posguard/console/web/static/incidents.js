"use strict";
// Incident queue: Table 14 filters over /api/incidents, newest first, paged.
document.addEventListener("DOMContentLoaded", () => {
  const { el, api, money, time, list, statusName, inputMicros } = PG;
  const form = document.getElementById("incident-filter");
  const tbody = document.querySelector("#incident-table tbody");
  const count = document.getElementById("incident-count");
  const size = 50;
  let offset = 0;

  function query() {
    const p = new URLSearchParams();
    const f = new FormData(form);
    const from = inputMicros(f.get("from")), to = inputMicros(f.get("to"));
    if (from) p.set("from", from);
    if (to) p.set("to", to);
    for (const k of ["terminals", "cashiers", "detectors_names", "experts"]) for (const v of list(f.get(k))) p.append(k, v);
    let flags = 0;
    for (const v of f.getAll("flag")) flags |= Number(v);
    p.set("flags", flags);
    p.set("limit", size);
    p.set("offset", offset);
    return p;
  }

  async function load() {
    try {
      const res = await api("GET", "/api/incidents?" + query());
      count.textContent = `${res.total} incident(s)`;
      tbody.replaceChildren(...res.incidents.map((i) => el("tr", { class: "st-" + statusName(i.status), "data-id": i.id },
        el("td", {}, el("a", { href: "/incidents/" + encodeURIComponent(i.id) }, time(i.ts_created))),
        el("td", {}, i.type_name), el("td", {}, i.store), el("td", {}, i.terminal_name || i.terminal_guid),
        el("td", {}, i.cashier_name), el("td", {}, i.op_id), el("td", { class: "status" }, statusName(i.status)),
        el("td", {}, i.expert), el("td", { class: "num" }, i.expert_estimate ? money(i.expert_estimate) : ""))));
      document.getElementById("inc-prev").disabled = offset === 0;
      document.getElementById("inc-next").disabled = offset + size >= res.total;
    } catch (e) { count.textContent = e.message; }
  }
  form.addEventListener("submit", (e) => { e.preventDefault(); offset = 0; load(); });
  document.getElementById("inc-prev").addEventListener("click", () => { offset = Math.max(0, offset - size); load(); });
  document.getElementById("inc-next").addEventListener("click", () => { offset += size; load(); });
  load();
});
