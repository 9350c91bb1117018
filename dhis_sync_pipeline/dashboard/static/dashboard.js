/* Auto-sync dashboard: refreshes every few seconds from the JSON API without reloading the page. */
(function () {
  "use strict";
  var initial = JSON.parse(document.getElementById("initial-data").textContent);
  var T = initial.strings;
  var lang = initial.lang;
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var timer = null;
  var busy = false;

  // The session ended (server restarted, or the access token changed): back to the login form.
  function toLogin() {
    window.location.assign(initial.login_path + "?next=" + encodeURIComponent(window.location.pathname + window.location.search));
  }

  function fmtNumber(n) { return (n === null || n === undefined) ? "—" : Number(n).toLocaleString(lang); }
  function fmtDuration(s) {
    if (s === null || s === undefined) return "—";
    s = Math.max(0, Math.round(s));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    if (h) return h + " h " + m + " min";
    if (m) return m + " min " + sec + " s";
    return sec + " s";
  }
  function fmtTime(iso) {
    if (!iso) return "—";
    var d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleString(lang);
  }
  function setBadge(el, text, cls) {
    el.className = "badge " + cls;
    el.textContent = text;
  }
  function hideBadge(el) { el.className = "badge d-none"; el.textContent = ""; }
  // "Last run: …" with the language's own spacing before the colon (a narrow no-break space in French).
  function label(text) { return text + T.colon + " "; }
  function statusClass(status) {
    return {completed: "text-bg-success", failed: "text-bg-danger", canceled: "text-bg-warning"}[status] || "text-bg-secondary";
  }
  function statusWord(status) { return T["status_" + status] || status; }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function runUrl(runId) { return initial.dagster_url.replace(/\/$/, "") + "/runs/" + encodeURIComponent(runId); }

  function renderCard(card, cfg, progress, queuedRunId) {
    var q = function (role) { return card.querySelector('[data-role="' + role + '"]'); };
    if (card.dataset.automatic !== "true") setBadge(q("sensor-badge"), T.manual, "text-bg-secondary");
    else setBadge(q("sensor-badge"), cfg.is_active ? T.active : T.stopped, cfg.is_active ? "text-bg-success" : "text-bg-danger");
    card.dataset.active = cfg.is_active ? "true" : "false";
    // Start while the sensor is stopped, Stop while it runs: never both at once.
    var start = card.querySelector('[data-action="start"]'), stop = card.querySelector('[data-action="stop"]');
    if (start) start.classList.toggle("d-none", !!cfg.is_active);
    if (stop) stop.classList.toggle("d-none", !cfg.is_active);
    // One story per card: a manual configuration has no sensor settings to show; an automatic one
    // says "Enabled" only while its sensor runs (never "Enabled" beside "Stopped").
    var s = cfg.settings;
    var every = s ? T.every_seconds.replace("{n}", s.check_interval) : "";
    if (card.dataset.automatic !== "true" || !s) hideBadge(q("settings-badge"));
    else if (!s.is_enabled) setBadge(q("settings-badge"), T.disabled, "text-bg-warning");
    else if (cfg.is_active) setBadge(q("settings-badge"), T.enabled + " · " + every, "text-bg-success");
    else setBadge(q("settings-badge"), T.check_interval + " " + s.check_interval + "\u00a0" + T.seconds_short, "text-bg-light border");

    var running = cfg.has_running_job && progress && progress.is_running;
    var runLink = q("run-link");
    if (running) {
      setBadge(q("run-badge"), T.running, "text-bg-primary");
    } else if (queuedRunId) {
      setBadge(q("run-badge"), T.queued, "text-bg-info");
    } else {
      setBadge(q("run-badge"), T.idle, "text-bg-secondary");
    }
    q("running").classList.toggle("d-none", !running);
    q("idle").classList.toggle("d-none", !!running);
    var runId = running ? progress.job_id : (queuedRunId || (cfg.last_job && cfg.last_job.id));
    if (runId) {
      runLink.href = runUrl(runId);
      runLink.classList.remove("d-none");
    } else {
      runLink.classList.add("d-none");
    }
    if (running) renderProgress(card, progress);
    else renderLastRun(q("last-run"), cfg.last_job);
  }

  function renderProgress(card, p) {
    var q = function (role) { return card.querySelector('[data-role="' + role + '"]'); };
    var pct = p.progress.percent;
    q("progress-bar").style.width = pct + "%";
    q("progress").setAttribute("aria-valuenow", pct);
    q("progress-bar").classList.toggle("bg-warning", p.progress.total_errors > 0);
    q("percent-text").textContent = pct + "%";
    q("current-step").textContent = p.current_step || "";
    q("current-resource").textContent = p.current_resource ? "· " + p.current_resource : "";
    q("synced").textContent = fmtNumber(p.progress.total_synced);
    q("errors").textContent = fmtNumber(p.progress.total_errors);
    var speed = p.timing.speed_per_second;
    q("speed").textContent = fmtNumber(speed) + "\u00a0" + T.per_second;
    // Nothing moved yet: no time left can be estimated.
    q("eta").textContent = speed > 0 ? fmtDuration(p.timing.estimated_remaining_seconds) : "—";
    var tbody = q("resources");
    tbody.textContent = "";
    Object.keys(p.resources).forEach(function (name) {
      var r = p.resources[name];
      var tr = el("tr");
      tr.dataset.resource = name;
      tr.appendChild(el("td", "fw-semibold", name));
      var typeCell = el("td", "d-none d-sm-table-cell");
      typeCell.appendChild(el("span", "badge " + (r.type === "metadata" ? "text-bg-info" : "text-bg-primary"), T[r.type] || r.type));
      tr.appendChild(typeCell);
      var barCell = el("td");
      var bar = el("div", "progress");
      bar.setAttribute("role", "progressbar");
      bar.setAttribute("aria-valuenow", r.percent);
      var fill = el("div", "progress-bar " + (r.errors > 0 ? "bg-warning" : (r.percent >= 100 ? "bg-success" : "bg-info")));
      fill.style.width = r.percent + "%";
      bar.appendChild(fill);
      barCell.appendChild(bar);
      tr.appendChild(barCell);
      tr.appendChild(el("td", "text-end", fmtNumber(r.synced) + " / " + fmtNumber(r.total)));
      tr.appendChild(el("td", "text-end" + (r.errors ? " text-danger fw-semibold" : ""), fmtNumber(r.errors)));
      tbody.appendChild(tr);
    });
  }

  function renderLastRun(box, job) {
    box.textContent = "";
    if (!job) { box.appendChild(el("span", "text-secondary", T.no_run_yet)); return; }
    box.appendChild(document.createTextNode(label(T.last_run)));
    var b = el("span", "badge " + statusClass(job.status), statusWord(job.status));
    b.dataset.role = "last-status";
    box.appendChild(b);
    box.appendChild(document.createTextNode(" " + fmtNumber(job.total_synced) + " " + T.synced.toLowerCase() + ", "));
    box.appendChild(el("span", job.total_errors ? "text-danger fw-semibold" : "", fmtNumber(job.total_errors) + " " + T.errors.toLowerCase()));
    box.appendChild(el("div", "text-secondary", label(T.started) + fmtTime(job.started_at) + " · " + label(T.finished) + fmtTime(job.completed_at)));
  }

  function render(stats, summary, progressById) {
    var running = 0;
    stats.configs.forEach(function (cfg) {
      var card = document.querySelector('.sync-card[data-config-id="' + CSS.escape(cfg.config_id) + '"]');
      if (cfg.has_running_job) running += 1;
      if (card) renderCard(card, cfg, progressById[cfg.config_id], summary && summary.queued[cfg.config_id]);
    });
    var total = function (name) { return document.querySelector('[data-total="' + name + '"]'); };
    total("active").textContent = stats.scheduler.total_active;
    total("running").textContent = running;
    if (summary) {
      total("synced").textContent = fmtNumber(summary.objects_synced_total);
      total("automatic").textContent = summary.automatic_configs;
      document.getElementById("daemon-warning").classList.toggle("d-none", summary.daemon_running);
    }
    document.querySelector('[data-role="updated-at"]').textContent = new Date().toLocaleTimeString(lang);
  }

  function getJSON(url) {
    return fetch(url, {headers: {"Accept": "application/json", "Accept-Language": lang}, cache: "no-store",
                       credentials: "same-origin"})
      .then(function (r) {
        if (r.status === 401) { toLogin(); throw new Error(T.session_expired); }
        return r.json();
      });
  }

  function refresh() {
    if (busy) return Promise.resolve();
    busy = true;
    var q = "?lang=" + encodeURIComponent(lang);
    return Promise.all([getJSON("/api/auto-sync/dashboard-stats/" + q), getJSON("/api/auto-sync/summary/" + q)])
      .then(function (res) {
        var stats = res[0], summary = res[1];
        if (!stats.success) throw new Error(stats.error || "error");
        var running = stats.configs.filter(function (c) { return c.has_running_job; });
        return Promise.all(running.map(function (c) {
          return getJSON("/api/auto-sync/" + encodeURIComponent(c.config_id) + "/progress/" + q)
            .then(function (p) { return [c.config_id, p]; });
        })).then(function (pairs) {
          var byId = {};
          pairs.forEach(function (pair) { byId[pair[0]] = pair[1]; });
          render(stats, summary, byId);
          document.getElementById("refresh-error").classList.add("d-none");
        });
      })
      .catch(function (err) {
        var box = document.getElementById("refresh-error");
        box.textContent = label(T.refresh_failed) + err.message;
        box.classList.remove("d-none");
      })
      .finally(function () { busy = false; });
  }

  function startTimer() {
    stopTimer();
    timer = window.setInterval(refresh, initial.refresh_seconds * 1000);
  }
  function stopTimer() {
    if (timer !== null) { window.clearInterval(timer); timer = null; }
  }

  function act(card, action, button) {
    var headers = {"X-CSRF-Token": csrf, "Accept": "application/json"};
    var msg = card.querySelector('[data-role="action-message"]');
    msg.classList.add("d-none");
    button.disabled = true;
    var spinner = el("i", "fa-solid fa-circle-notch fa-spin ms-1");
    button.appendChild(spinner);
    fetch("/api/auto-sync/" + encodeURIComponent(card.dataset.configId) + "/" + action + "/?lang=" + lang,
          {method: "POST", headers: headers, credentials: "same-origin"})
      .then(function (r) { return r.json().then(function (body) { return [r.status, body]; }); })
      .then(function (res) {
        if (res[0] === 401) { toLogin(); throw new Error(T.session_expired); }
        if (!res[1].success) throw new Error(res[1].error || res[0]);
        return refresh();
      })
      .catch(function (err) {
        msg.textContent = label(T.action_failed) + err.message;
        msg.classList.remove("d-none");
      })
      .finally(function () { button.disabled = false; spinner.remove(); });
  }

  document.querySelectorAll(".sync-card [data-action]").forEach(function (button) {
    button.addEventListener("click", function () {
      act(button.closest(".sync-card"), button.dataset.action, button);
    });
  });

  render(initial.stats, initial.summary, initial.progress);
  startTimer();
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) stopTimer(); else { refresh(); startTimer(); }
  });
  window.addEventListener("pagehide", stopTimer);
  window.addEventListener("beforeunload", stopTimer);
})();
