// The dashboard's trend charts (Apache ECharts, vendored), fed by GET /api/trends with the
// page's filters and refreshed while the page is open.
(function () {
  "use strict";
  const REFRESH_MS = 30000;

  window.CitybrainTrends = function (cfg, name, filters) {
    const ids = ["flow", "category", "sla", "routing"];
    const charts = {};
    for (const id of ids) {
      const div = document.getElementById("chart-" + id);
      if (div) charts[id] = echarts.init(div, null, { renderer: "canvas" });
    }
    window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));
    const bucket = document.getElementById("trend-bucket");
    let timer = null;
    const stats = { loads: 0 };

    const label = (iso, b) => {
      const d = new Date(iso);
      const pad = (x) => String(x).padStart(2, "0");
      return b === "day" ? `${pad(d.getMonth() + 1)}-${pad(d.getDate())}` : `${pad(d.getDate())} ${pad(d.getHours())}:00`;
    };
    const sum = (series, n) => {
      const out = new Array(n).fill(0);
      Object.values(series || {}).forEach((arr) => arr.forEach((v, i) => { out[i] += v; }));
      return out;
    };
    const option = (x, series, stacked) => ({
      animation: false,
      grid: { left: 36, right: 10, top: 30, bottom: 24 },
      tooltip: { trigger: "axis" },
      legend: { type: "scroll", top: 0, textStyle: { fontSize: 11 } },
      xAxis: { type: "category", data: x, axisLabel: { fontSize: 10 } },
      yAxis: { type: "value", minInterval: 1, axisLabel: { fontSize: 10 } },
      series: series.map((s) => ({ type: stacked ? "bar" : "line", stack: stacked ? "all" : undefined,
        showSymbol: false, ...s })),
    });

    function draw(d) {
      const n = d.starts.length;
      const x = d.starts.map((t) => label(t, d.bucket));
      if (charts.flow) charts.flow.setOption(option(x, [
        { name: _("opened"), data: sum(d.opened, n), color: "#1f77b4" },
        { name: _("resolved"), data: sum(d.resolved, n), color: "#2ca02c" },
      ]), true);
      const byCat = (series) => Object.entries(series || {}).map(([k, v]) => ({
        name: name("categories", k), data: v, color: cfg.colours[k] || "#555",
      }));
      if (charts.category) charts.category.setOption(option(x, byCat(d.opened), true), true);
      if (charts.sla) charts.sla.setOption(option(x, byCat(d.sla_breaches), true), true);
      if (charts.routing) charts.routing.setOption(option(x,
        Object.entries(d.decided_by || {}).map(([k, v]) => ({ name: _(k), data: v })), true), true);
      stats.loads += 1;
      stats.last = d;
    }

    function load() {
      const q = filters();
      q.delete("range");
      q.set("bucket", bucket ? bucket.value : "hour");
      return fetch("/api/trends?" + q.toString(), { credentials: "same-origin" })
        .then((r) => (r.ok ? r.json() : null))
        .then((d) => { if (d) draw(d); }, () => {});
    }
    function start() {
      if (timer) clearInterval(timer);
      load();
      timer = setInterval(load, REFRESH_MS);
    }
    if (bucket) bucket.addEventListener("change", start);
    start();
    return { reload: start, stats: stats };
  };
})();
