// CodeMoat console: shared helpers and the generic API forms of the administration pages.
// No inline scripts anywhere (the Content-Security-Policy forbids them); text is put into the page with
// textContent, never as HTML.
"use strict";

(function () {
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  async function api(method, url, body) {
    const init = { method, headers: { "X-CSRF-Token": csrf(), "Accept": "application/json" }, credentials: "same-origin" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(url, init);
    let data = null;
    if (response.status !== 204) {
      const type = response.headers.get("Content-Type") || "";
      data = type.includes("json") ? await response.json() : await response.text();
    }
    if (!response.ok) {
      const error = data && data.error ? data.error : { message: `request failed (${response.status})` };
      const failure = new Error(error.message);
      failure.param = error.param;
      failure.status = response.status;
      throw failure;
    }
    return data;
  }

  async function fieldValue(input) {
    if (input.type === "file") {
      const file = input.files && input.files[0];
      return file ? await file.text() : "";
    }
    if (input.tagName === "SELECT" && input.multiple) {
      return Array.from(input.selectedOptions).map((o) => o.value);
    }
    const type = input.dataset.type;
    if (input.type === "checkbox") return input.checked;
    const raw = input.value;
    if (type === "int") return raw.trim() === "" ? null : Number(raw);
    if (type === "bool") return raw === "true";
    if (type === "list") return raw.split(",").map((s) => s.trim()).filter(Boolean);
    return raw;
  }

  async function formBody(form) {
    const body = {};
    for (const input of form.querySelectorAll("input[name], select[name], textarea[name]")) {
      const value = await fieldValue(input);
      const empty = value === "" || value === null || (Array.isArray(value) && value.length === 0);
      if (empty && input.hasAttribute("data-optional")) continue;
      body[input.name] = value;
    }
    return body;
  }

  function showSecret(form, data) {
    const secret = data && (data.token || data.password);
    const box = form.querySelector(".result");
    if (!secret || !box) return false;
    box.hidden = false;
    box.textContent = "";
    const label = document.createElement("span");
    label.textContent = data.token ? "Token (copy it now, it is not shown again): " : "Password (copy it now, it is not shown again): ";
    const code = document.createElement("code");
    code.className = "secret";
    code.textContent = secret;
    box.append(label, code);
    return true;
  }

  async function submit(event) {
    const form = event.target;
    if (!form.classList.contains("api")) return;
    event.preventDefault();
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
    const error = form.querySelector(".form-error");
    if (error) error.textContent = "";
    form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
    const button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    try {
      const method = form.dataset.method || "POST";
      const body = method === "DELETE" ? undefined : await formBody(form);
      const data = await api(method, form.dataset.url, body);
      if (showSecret(form, data)) return;
      const then = form.dataset.then;
      if (then === "stay") {
        document.dispatchEvent(new CustomEvent("codemoat:changed"));
      } else if (then) {
        window.location.assign(then);
      } else {
        window.location.reload();
      }
    } catch (failure) {
      if (error) error.textContent = failure.message;
      if (failure.param) {
        const field = form.querySelector(`[name="${CSS.escape(String(failure.param).split(/[.\[, ]/)[0])}"]`);
        if (field) field.setAttribute("aria-invalid", "true");
      }
    } finally {
      if (button) button.disabled = false;
    }
  }

  async function verifyAudit() {
    const out = document.getElementById("verify-result");
    out.textContent = "checking…";
    try {
      const report = await api("GET", "/api/admin/audit/verify");
      out.textContent = report.ok
        ? `intact: ${report.entries} entries, head ${report.head_seq} ${report.head_hash.slice(0, 16)}…`
        : `BROKEN: ${report.problems.join("; ")}`;
      out.className = report.ok ? "ok" : "error";
    } catch (failure) {
      out.textContent = failure.message;
      out.className = "error";
    }
  }

  window.codemoat = { api, csrf };
  document.addEventListener("submit", submit);
  document.addEventListener("DOMContentLoaded", () => {
    const verify = document.getElementById("verify-audit");
    if (verify) verify.addEventListener("click", verifyAudit);
  });
})();
