// Live indexing state on the repositories page: poll the admin API and update each row in place.
"use strict";

(function () {
  const POLL_MS = 1000;

  function when(iso) {
    if (!iso) return "–";
    return iso.slice(0, 16).replace("T", " ") + " UTC";
  }

  function update(row, repo) {
    const set = (field, text) => {
      const el = row.querySelector(`[data-field="${field}"]`);
      if (el) el.textContent = text;
    };
    const label = row.querySelector('[data-field="state"]');
    label.textContent = repo.state;
    label.className = `state-label state-${repo.state}`;
    const progress = row.querySelector('[data-field="progress"]');
    const job = repo.job;
    const running = job && job.state === "running";
    progress.hidden = !running;
    if (running) {
      progress.max = Math.max(job.files_total, 1);
      progress.value = job.files_done;
      set("progress-text", job.phase === "sync" ? "syncing…" : `${job.files_done} / ${job.files_total} files`);
    } else {
      set("progress-text", job && job.state === "queued" ? "waiting for its turn" : "");
    }
    set("error", repo.last_error || "");
    set("files", String(repo.files));
    set("chunks", String(repo.chunks));
    set("commit", (repo.last_commit || "–").slice(0, 12));
    set("last_sync", when(repo.last_sync));
  }

  async function refresh() {
    try {
      const data = await window.codemoat.api("GET", "/api/admin/repositories");
      const rows = new Map(Array.from(document.querySelectorAll("#repositories tr[data-repo]")).map((r) => [r.dataset.repo, r]));
      for (const repo of data.repositories) {
        const row = rows.get(repo.name);
        if (!row) {
          window.location.reload();
          return;
        }
        update(row, repo);
      }
    } catch (failure) {
      // a transient failure (server restarting): try again on the next tick
    }
  }

  async function tick() {
    await refresh();
    window.setTimeout(tick, POLL_MS);
  }

  document.addEventListener("DOMContentLoaded", () => window.setTimeout(tick, 200));
  document.addEventListener("codemoat:changed", refresh);
})();
