// posguard console: helpers shared by every page (no framework, no build step).
"use strict";

const PG = (() => {
  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;
  const data = () => JSON.parse(document.getElementById("page-data").textContent || "{}");

  async function api(method, url, body) {
    const opts = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (method !== "GET" && method !== "HEAD") opts.headers["X-CSRF-Token"] = csrf();
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    const r = await fetch(url, opts);
    if (r.status === 401 && !location.pathname.startsWith("/login")) {
      location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
      throw new Error("logged out");
    }
    const text = await r.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
    if (!r.ok) {
      let msg = json && json.detail ? json.detail : text || r.statusText;
      if (Array.isArray(msg)) msg = msg.map((d) => (d.loc || []).slice(-1)[0] + ": " + d.msg).join("; ");
      throw new Error(msg);
    }
    return json;
  }

  // Elements are built with textContent: nothing from the server is parsed as HTML.
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  const pad = (n) => String(n).padStart(2, "0");
  function time(us, withDate = true) {
    if (!us) return "";
    const d = new Date(us / 1000);
    const t = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    return withDate ? `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${t}` : t;
  }
  const money = (k) => (Number(k || 0) / 100).toFixed(2);
  const kopecks = (s) => {
    s = String(s || "").trim().replace(",", ".");
    if (!s) return null;
    const v = Math.round(parseFloat(s) * 100);
    return Number.isFinite(v) ? v : null;
  };
  // datetime-local / date input value -> microseconds since the epoch (browser's zone)
  const inputMicros = (v) => (v ? new Date(v).getTime() * 1000 : null);
  const list = (s) => String(s || "").split(",").map((x) => x.trim()).filter(Boolean);
  const statusName = (s) => ["new", "confirmed", "rejected"][s] || String(s);

  function toast(level, text, source) {
    const box = document.getElementById("toasts");
    if (!box) return;
    const t = el("div", { class: "toast " + level, role: level === "message" ? "status" : "alert" },
      el("strong", {}, level), " ", source ? el("span", { class: "muted" }, "[" + source + "] ") : null, text);
    t.addEventListener("click", () => t.remove());
    box.append(t);
    setTimeout(() => t.remove(), level === "message" ? 8000 : 30000);
  }

  function listenNotifications() {
    if (!document.body.dataset.user || !window.EventSource) return;
    const es = new EventSource("/api/notifications/stream");
    es.addEventListener("notification", (e) => {
      const n = JSON.parse(e.data);
      toast(n.level, n.text, n.source);
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const out = document.getElementById("logout");
    if (out) out.addEventListener("click", async () => {
      try { await api("POST", "/api/auth/logout"); } finally { location.href = "/login"; }
    });
    listenNotifications();
  });

  return { api, el, time, money, kopecks, inputMicros, list, statusName, toast, data, csrf };
})();
