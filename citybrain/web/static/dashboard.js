// Live operations dashboard: one EventSource, one message format (see citybrain/web/live.py).
// Incidents are upserted by id; panels are re-rendered by name. No page reloads, no CDN.
// Every human string goes through _() (static/i18n.js): the page speaks the user's language.
(function () {
  "use strict";
  // A JSON data block, not a script: the page's CSP runs no inline code (see web/guards.py).
  const cfg = JSON.parse(document.getElementById("citybrain-config").textContent);
  const incidents = new Map();
  const stats = { updates: 0, resets: 0, connects: 0, loadedAt: Date.now() };
  window.__citybrain = stats;
  let source = null;

  const el = (tag, attrs, text) => {
    const e = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => e.setAttribute(k, v));
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const name = (kind, id) => (cfg[kind] && cfg[kind][id]) || _(id);
  const when = (iso) => (iso ? iso.slice(0, 16).replace("T", " ") : "");

  function filters() {
    const f = new FormData(document.getElementById("filters"));
    const q = new URLSearchParams();
    for (const [k, v] of f.entries()) if (v) q.set(k, v);
    return q;
  }

  function connect(since) {
    if (source) source.close();
    const q = filters();
    if (since) q.set("since", since);
    source = new EventSource("/api/live?" + q.toString());
    stats.connects += 1;
    const conn = document.getElementById("conn");
    source.onopen = () => { conn.textContent = _("live"); conn.className = "conn ok"; };
    source.onerror = () => {
      conn.textContent = _("reconnecting…");
      conn.className = "conn down";
      // The browser retries by itself (with Last-Event-ID) unless the server answered with an
      // error; then find out why: an expired session goes to sign-in, anything else retries.
      if (source.readyState === EventSource.CLOSED) {
        fetch("/api/incidents?page_size=1").then((r) => {
          if (r.status === 401) window.location.href = "/login?next=/&expired=1";
          else setTimeout(() => connect(stats.cursor), 2000);
        }, () => setTimeout(() => connect(stats.cursor), 2000));
      }
    };
    source.addEventListener("update", (ev) => apply(JSON.parse(ev.data)));
    // The server re-checks the session before every update and says when it ended.
    source.addEventListener("signed_out", () => {
      source.close();
      window.location.href = "/login?next=/&expired=1";
    });
  }

  function apply(msg) {
    stats.updates += 1;
    stats.cursor = msg.cursor;
    if (msg.reset) { incidents.clear(); stats.resets += 1; }
    for (const inc of msg.incidents) {
      if (inc.status === "resolved") incidents.delete(inc.id);
      else incidents.set(inc.id, inc);
    }
    document.getElementById("hidden-note").textContent =
      msg.hidden ? _("(newest {drawn} drawn, {more} more counted below)", { drawn: incidents.size, more: msg.hidden }) : "";
    renderMarkers();
    renderLatest();
    renderPanels(msg.panels || {});
  }

  function renderMarkers() {
    map.render([...incidents.values()]);
  }

  function renderLatest() {
    const body = document.querySelector("#latest tbody");
    const rows = [...incidents.values()]
      .sort((a, b) => (a.updated_at < b.updated_at ? 1 : -1)).slice(0, cfg.pageSize);
    body.replaceChildren(...rows.map((inc) => {
      const tr = el("tr", { "data-incident": inc.id });
      const a = el("a", { href: "/incidents/" + inc.id }, name("categories", inc.category));
      const td = el("td"); td.appendChild(a); tr.appendChild(td);
      tr.appendChild(el("td", { class: "sev-" + inc.severity }, _(inc.severity)));
      tr.appendChild(el("td", {}, inc.district ? name("districts", inc.district) : _("unlocated")));
      tr.appendChild(el("td", {}, name("departments", inc.department)));
      tr.appendChild(el("td", { class: "how", title: inc.routing.reason }, _(inc.routing.decided_by)));
      tr.appendChild(el("td", {}, when(inc.updated_at)));
      return tr;
    }));
  }

  // --- panels: a renderer per known name; anything else gets the generic table ---
  function table(headers, rows) {
    const t = el("table");
    const h = el("tr");
    headers.forEach((x) => h.appendChild(el("th", {}, x)));
    t.appendChild(h);
    rows.forEach((r) => {
      const tr = el("tr");
      r.forEach((x) => {
        const td = el("td", {}, x === null || x === undefined ? "" : String(x));
        if (typeof x === "number") td.className = "num";
        tr.appendChild(td);
      });
      t.appendChild(tr);
    });
    return t;
  }
  const counts = (kind) => (data) => table(["", _("open")],
    Object.entries(data).sort((a, b) => b[1] - a[1]).map(([k, n]) => [name(kind, k), n]));
  const pct = (x) => (100 * x).toFixed(1) + "%";
  const renderers = {
    by_category: { title: _("Open by category"), render: counts("categories") },
    by_district: { title: _("Open by district"), render: counts("districts") },
    by_department: { title: _("Open by department"), render: counts("departments") },
    sla: {
      title: _("SLA (open: near / past deadline)"),
      render: (d) => table([_("category"), _("open"), _("near"), _("past")],
        Object.entries(d).map(([k, v]) => [name("categories", k), v.open, v.near, v.past])),
    },
    quality: {
      title: _("Routing quality: re-dispatch rate"),
      render: (d) => {
        const div = el("div");
        const rows = (o, kind) => Object.entries(o || {}).map(([k, v]) =>
          [kind ? name(kind, k) : _(k), v.routed, v.redispatched, pct(v.rate)]);
        div.appendChild(table([_("method"), _("routed"), _("re-dispatched"), _("rate")], rows(d.by_method)));
        div.appendChild(table([_("category"), _("routed"), _("re-dispatched"), _("rate")], rows(d.by_category, "categories")));
        return div;
      },
    },
    pipelines: {
      title: _("Pipeline health"),
      render: (d) => {
        // a region that may scroll sideways: reachable and scrollable by keyboard
        const wrap = el("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": _("Pipeline health") });
        wrap.appendChild(table([_("job"), _("workers"), _("per s"), _("lag"), _("DLQ"), _("DLQ rate"), _("updated"), _("status")],
          Object.entries(d).map(([k, v]) => [k, v.workers, v.per_s, v.lag, v.dlq, pct(v.dlq_rate),
            v.age_s === null ? "" : _("{s} s ago", { s: v.age_s }), _(v.status)])));
        return wrap;
      },
    },
    hot_issues: {
      // Member tickets are not in the shared panel: the API shows them to roles that read text.
      title: _("Hot issues (many residents, one specific problem)"),
      render: (d) => {
        if (!d.length) return el("p", {}, _("none"));
        const t = table([_("issue"), _("place"), _("tickets"), _("residents"), _("trend"), _("from"), _("to"), ""],
          d.map((h) => [h.title, h.place, h.count, h.residents, "+" + h.recent,
            when(h.time_range[0]), when(h.time_range[1]), ""]));
        t.querySelectorAll("tr").forEach((tr, i) => {
          if (i === 0) return;
          const a = el("a", { href: "/api/hot-issues/" + encodeURIComponent(d[i - 1].id) }, _("tickets"));
          tr.lastChild.replaceChildren(a);
        });
        return t;
      },
    },
    cameras: {
      title: _("Camera health"),
      render: (d) => {
        map.cameras(d);
        const wrap = el("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": _("Camera health") });
        wrap.appendChild(table([_("camera"), _("district"), _("frames"), _("fps"), _("errors"), _("last frame"),
          _("sent / sampled"), _("status"), _("since")],
          d.map((c) => [c.id, name("districts", c.district), c.frames, c.fps, c.errors,
            when(c.last_frame_at), c.health === null ? "" : `${c.sent} / ${c.sampled}`, _(c.status),
            c.health === null ? "" : when(c.health_since)])));
        return wrap;
      },
    },
    hotspots: {
      title: _("Hot spots (tickets growing fast in one area)"),
      render: (d) => {
        if (!d.length) return el("p", {}, _("none"));
        return table([_("category"), _("district"), _("tickets"), _("baseline"), _("from"), _("updated"), _("status")],
          d.map((h) => [name("categories", h.category), h.district ? name("districts", h.district) : _("unlocated"),
            h.count, h.baseline, when(h.opened_at), when(h.updated_at), _(h.status)]));
      },
    },
  };
  function generic(data) {
    if (Array.isArray(data)) {
      if (!data.length) return el("p", {}, _("none"));
      const keys = Object.keys(data[0]);
      return table(keys, data.map((r) => keys.map((k) => r[k])));
    }
    return table(["", ""], Object.entries(data || {}).map(([k, v]) =>
      [k, typeof v === "object" ? JSON.stringify(v) : v]));
  }
  function renderPanels(panels) {
    const root = document.getElementById("panels");
    for (const [key, data] of Object.entries(panels)) {
      let sec = root.querySelector(`section[data-panel="${key}"]`);
      const r = renderers[key] || { title: _(key.replace(/_/g, " ")), render: generic };
      if (!sec) {
        sec = el("section", { "data-panel": key });
        sec.appendChild(el("h2", {}, r.title));
        sec.appendChild(el("div", { class: "body" }));
        root.appendChild(sec);
      }
      sec.querySelector(".body").replaceChildren(r.render(data));
    }
    if (panels.by_category) {
      const n = Object.values(panels.by_category).reduce((a, b) => a + b, 0);
      document.getElementById("open-total").textContent = _("{n} open", { n: n });
      // the trend charts follow the live counts (at most every few seconds)
      if (n !== stats.openTotal && Date.now() - (stats.trendsAt || 0) > 5000) {
        stats.trendsAt = Date.now();
        if (stats.openTotal !== undefined) trends.reload();
      }
      stats.openTotal = n;
    }
  }

  const map = window.CitybrainMap(cfg, name);
  stats.drawn = map.drawn;
  stats.categoryOf = map.categoryOf;
  const trends = window.CitybrainTrends(cfg, name, filters);
  stats.trends = trends.stats;
  document.getElementById("filters").addEventListener("change", () => {
    incidents.clear();
    connect(null);
    trends.reload();
  });
  connect(null);
})();
