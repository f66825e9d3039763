"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("login-form");
  const err = document.getElementById("login-error");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.textContent = "";
    try {
      await PG.api("POST", "/api/auth/login", {
        username: form.username.value, password: form.password.value });
      const next = new URLSearchParams(location.search).get("next") || "/live";
      // only same-site paths: never an absolute URL from the query string
      location.href = next.startsWith("/") && !next.startsWith("//") ? next : "/live";
    } catch (ex) {
      err.textContent = ex.message;
    }
  });
});
