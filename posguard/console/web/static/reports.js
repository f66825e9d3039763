"use strict";
// Reports: pick a type and a range; the link downloads GET /api/reports/{type}?from=&to= (ODS),
// and the charts below (GET /api/charts/{name}.svg) are redrawn for the same range.
document.addEventListener("DOMContentLoaded", async () => {
  const { el, api } = PG;
  const type = document.getElementById("report-type");
  const from = document.getElementById("report-from");
  const to = document.getElementById("report-to");
  const link = document.getElementById("report-link");
  let types = PG.data().report_types || [];
  try {
    // the reports API may list its types; the page's own list is the fallback
    const got = await api("GET", "/api/reports");
    if (Array.isArray(got) && got.length) {
      types = got.map((t) => (typeof t === "string" ? { id: t, name: t }
        : { id: t.type || t.id, name: t.title || t.name || t.type }));
    }
  } catch (e) { /* no listing route: keep the built-in list */ }
  for (const t of types) type.append(el("option", { value: t.id }, t.name || t.id));
  const day = (d) => d.toISOString().slice(0, 10);
  const now = new Date();
  to.value = day(now);
  from.value = day(new Date(now.getTime() - 7 * 86400e3));
  const tz = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  function update() {
    // whole days in the browser's zone; the end is excluded, so it is the next midnight
    const f = new Date(from.value + "T00:00:00").getTime() * 1000;
    const end = new Date(to.value + "T00:00:00");
    end.setDate(end.getDate() + 1);
    const q = new URLSearchParams({ from: f, to: end.getTime() * 1000, tz });
    link.href = `/api/reports/${encodeURIComponent(type.value)}?${q}`;
    // the charts (shown to the roles that may see them) follow the same days
    const range = new URLSearchParams({ from: f, to: end.getTime() * 1000 });
    for (const img of document.querySelectorAll("#charts img[data-chart]")) {
      const src = `/api/charts/${encodeURIComponent(img.dataset.chart)}.svg?${range}`;
      img.src = src;
      img.parentElement.href = src;
    }
  }
  for (const e of [type, from, to]) e.addEventListener("change", update);
  update();
});
