"use strict";
// Review form with the incident's receipt beside it (triggering lines marked) and the video moment.
document.addEventListener("DOMContentLoaded", () => {
  const { el, api, money, time, statusName, kopecks } = PG;
  const id = PG.data().id;
  const form = document.getElementById("review-form");
  const err = document.getElementById("review-error");
  let loaded = null;

  function fields(inc) {
    const rows = [["Type", inc.type_name], ["Description", inc.type_description], ["Status", statusName(inc.status)],
      ["Store", inc.store], ["Terminal", `${inc.terminal_name || ""} ${inc.terminal_guid}`], ["Cashier", inc.cashier_name],
      ["Receipt", inc.op_id], ["Created", time(inc.ts_created)], ["Detector", inc.detector], ["Expert", inc.expert],
      ["Damage, ₽", inc.expert_estimate ? money(inc.expert_estimate) : ""], ["Reviewed", time(inc.review_ts)],
      ["Review time", inc.review_duration ? (inc.review_duration / 1e6).toFixed(0) + " s" : ""]];
    for (const [k, v] of Object.entries(inc.custom_columns || {})) rows.push([k, v]);
    document.getElementById("inc-fields").replaceChildren(...rows.flatMap(([k, v]) =>
      [el("dt", {}, k), el("dd", { "data-field": k.toLowerCase() }, v || "—")]));
  }

  async function load() {
    loaded = await api("GET", "/api/incidents/" + encodeURIComponent(id));
    const inc = loaded.incident;
    document.getElementById("inc-title").textContent = inc.type_name;
    document.body.dataset.status = statusName(inc.status);
    fields(inc);
    const v = loaded.video;
    document.getElementById("video-moment").textContent =
      `channel ${v.channel || "—"} at ${time(v.ts_received)} (ts_received ${v.ts_received})`;
    document.getElementById("receipt-title").textContent = `${inc.op_id} · ${inc.terminal_name || inc.terminal_guid}`;
    document.querySelector("#receipt-lines tbody").replaceChildren(...loaded.events.map((ev) =>
      el("tr", { class: "line" + (ev.triggering ? " trig" : "") + (ev.type === "POS_FRAUD" ? " fraud" : "") + (ev.type === "POS_POSITION_DELETE" ? " del" : "") },
        el("td", { class: "t" }, time(ev.ts_in_receipt, false)),
        el("td", {}, ev.type.replace(/^POS_/, "").toLowerCase().replace(/_/g, " ")),
        el("td", {}, ev.text || ev.discount_card || ""), el("td", { class: "num" }, ev.price ? money(ev.price) : ""))));
    document.querySelector("#history tbody").replaceChildren(...loaded.history.map((h) =>
      el("tr", {}, el("td", {}, time(h.ts)), el("td", {}, h.user), el("td", {}, h.action), el("td", {}, statusName(h.status)),
        el("td", { class: "num" }, h.expert_estimate ? money(h.expert_estimate) : ""), el("td", {}, h.comment))));
    for (const r of form.querySelectorAll('input[name="status"]')) r.checked = r.value === statusName(inc.status);
    form.estimate.value = inc.expert_estimate ? money(inc.expert_estimate) : "";
    form.comment.value = inc.comment || "";
    const canReview = ["operator", "analyst", "admin"].includes(document.body.dataset.role);
    for (const c of form.elements) c.disabled = !canReview;
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.textContent = "";
    const checked = form.querySelector('input[name="status"]:checked');
    const body = { comment: form.comment.value, review_started: loaded.served_at, version: loaded.incident.version };
    if (checked) body.status = checked.value;
    const est = kopecks(form.estimate.value);
    if (est !== null) body.expert_estimate = est;
    try {
      await api("POST", `/api/incidents/${encodeURIComponent(id)}/review`, body);
      PG.toast("message", "Review saved", "");
      await load();
    } catch (ex) { err.textContent = ex.message; }
  });
  load().catch((e) => { err.textContent = e.message; });
});
