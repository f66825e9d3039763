"use strict";
// Admin: accounts and roles.
document.addEventListener("DOMContentLoaded", () => {
  const { el, api, time } = PG;
  const form = document.getElementById("new-user");
  const err = document.getElementById("user-error");
  const tbody = document.querySelector("#user-table tbody");
  const ROLES = ["viewer", "operator", "analyst", "admin"];

  async function load() {
    const users = await api("GET", "/api/users");
    tbody.replaceChildren(...users.map((u) => {
      const sel = el("select", { "aria-label": "role of " + u.username }, ROLES.map((r) => el("option", { value: r, selected: r === u.role }, r)));
      sel.addEventListener("change", async () => {
        try { await api("PATCH", "/api/users/" + encodeURIComponent(u.username), { role: sel.value }); }
        catch (e) { err.textContent = e.message; }
        load();
      });
      const del = el("button", { type: "button" }, "Delete");
      del.addEventListener("click", async () => {
        if (!confirm("Delete " + u.username + "?")) return;
        try { await api("DELETE", "/api/users/" + encodeURIComponent(u.username)); }
        catch (e) { err.textContent = e.message; }
        load();
      });
      return el("tr", {}, el("td", {}, u.username), el("td", {}, sel), el("td", {}, time(u.updated)), el("td", {}, del));
    }));
  }
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.textContent = "";
    const body = { username: form.username.value, role: form.role.value };
    if (form.password.value) body.password = form.password.value;
    try {
      const u = await api("POST", "/api/users", body);
      if (u.password) PG.toast("alert", `Password of ${u.username}: ${u.password} (shown once)`, "");
      form.reset();
      load();
    } catch (ex) { err.textContent = ex.message; }
  });
  load().catch((e) => { err.textContent = e.message; });
});
