// The history page's charts (Chart.js, served from static/vendor/chartjs), from the JSON the page carries.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("history-data").textContent);
  const s = data.series, t = data.strings;
  const colours = { SUCCESS: "#198754", FAILURE: "#dc3545", CANCELED: "#6c757d", other: "#0d6efd" };
  const labels = { SUCCESS: t.history_succeeded, FAILURE: t.history_failed, CANCELED: t.history_canceled,
                   other: t.history_other };
  const fmt = new Intl.DateTimeFormat(data.lang, { weekday: "short", day: "numeric", month: "short", timeZone: "UTC" });
  const days = s.days.map((d) => fmt.format(new Date(d + "T00:00:00Z")));
  const common = { responsive: true, maintainAspectRatio: false, animation: false,
                   plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } } };
  const integerAxis = { beginAtZero: true, ticks: { precision: 0 } };

  function chart(id, config) {
    return new Chart(document.getElementById(id), config);
  }

  chart("chart-runs", {
    type: "bar",
    data: { labels: days, datasets: Object.keys(s.runs).filter((k) => s.runs[k].some((v) => v > 0) || k !== "other")
      .map((k) => ({ label: labels[k], data: s.runs[k], backgroundColor: colours[k] })) },
    options: { ...common, scales: { x: { stacked: true }, y: { ...integerAxis, stacked: true } } },
  });
  chart("chart-synced", {
    type: "bar",
    data: { labels: days, datasets: [
      { label: t.history_objects, data: s.objects_synced, backgroundColor: "#0d6efd" },
      { label: t.history_values, data: s.values_synced, backgroundColor: "#20c997" },
    ] },
    options: { ...common, scales: { y: integerAxis } },
  });
  chart("chart-rejected", {
    type: "bar",
    data: { labels: days, datasets: [{ label: t.history_rejected, data: s.rejected, backgroundColor: "#dc3545" }] },
    options: { ...common, scales: { y: integerAxis } },
  });
  const timeFmt = new Intl.DateTimeFormat(data.lang, { day: "numeric", month: "short", hour: "2-digit",
                                                       minute: "2-digit", timeZone: "UTC" });
  chart("chart-duration", {
    type: "line",
    data: { labels: s.durations.map((d) => timeFmt.format(new Date(d.start))),
            datasets: [{ label: t.history_duration + " (" + t.history_seconds + ")",
                         data: s.durations.map((d) => d.seconds), borderColor: "#6f42c1", backgroundColor: "#6f42c1",
                         pointBackgroundColor: s.durations.map((d) => colours[d.status] || colours.other),
                         pointRadius: 4, tension: 0.2 }] },
    options: { ...common, scales: { y: { beginAtZero: true } } },
  });
  document.documentElement.dataset.chartsReady = "true";
})();
