// The dashboard map (Leaflet, vendored): the city's districts, streets, landmarks and cameras
// as vector layers from the city config, so it works offline; a basemap under them only where
// web.map.style names a tile server. Incidents are clustered by zoom (Leaflet.markercluster),
// coloured by category and sized by severity; a click (or Enter) opens the incident.
(function () {
  "use strict";
  const sevSize = { low: 10, medium: 13, high: 17, critical: 22 };
  const healthColour = { ok: "#2ca02c", stale: "#c45500", errors: "#b00020", never: "#7f7f7f" };
  // Leaflet writes a string tooltip as HTML; names come from a city's own (imported) files
  const text = (s) => { const e = document.createElement("span"); e.textContent = s; return e; };

  window.CitybrainMap = function (cfg, name) {
    const m = cfg.map;
    const map = L.map("map", { zoomSnap: 0.5, maxZoom: m.maxZoom, keyboard: true });
    if (m.tiles) {
      L.tileLayer(m.tiles, { attribution: m.attribution, maxZoom: m.maxZoom }).addTo(map);
    }
    map.attributionControl.setPrefix(false);
    const style = (f) => {
      const k = f.properties.kind;
      if (k === "district") return { color: "#5d6f88", weight: 1.5, fillColor: "#f7faff", fillOpacity: m.tiles ? 0.15 : 0.9 };
      if (k === "street") return { color: "#b7c2d3", weight: 3, opacity: 0.9 };
      return {};
    };
    const cameras = new Map();
    const base = L.geoJSON(m.layers, {
      style: style,
      pointToLayer: (f, latlng) => {
        if (f.properties.kind === "camera") {
          const c = L.circleMarker(latlng, {
            radius: 6, color: "#1d2430", weight: 1.5, fillColor: healthColour.never, fillOpacity: 1,
          });
          cameras.set(f.properties.id, c);
          return c;
        }
        return L.circleMarker(latlng, { radius: 3, color: "#6a7a90", weight: 1, fillOpacity: 0.6 });
      },
      onEachFeature: (f, layer) => {
        const p = f.properties;
        if (p.kind === "district") {
          layer.bindTooltip(text(p.name), { permanent: true, direction: "center", className: "district-label" });
        } else if (p.kind === "camera") {
          layer.bindTooltip(text(_("camera {id}: {name}", { id: p.id, name: p.name })));
          layer.on("click", () => { window.location.href = "/cameras#cam-" + p.id; });
        } else {
          layer.bindTooltip(text(p.name));
        }
      },
    }).addTo(map);
    map.fitBounds(m.bounds);
    const clusters = L.markerClusterGroup({
      maxClusterRadius: 40, showCoverageOnHover: false, spiderfyOnMaxZoom: true,
    });
    map.addLayer(clusters);
    // a cluster is a focusable marker too: Enter zooms into it, as a click does
    clusters.on("clusterkeypress", (e) => {
      if (e.originalEvent && e.originalEvent.key === "Enter") e.layer.zoomToBounds({ padding: [20, 20] });
    });
    const drawn = new Map();

    return {
      map: map,
      base: base,
      // the ids drawn, for scripts and tests (clusters hide single markers from the DOM)
      drawn: () => [...drawn.keys()],
      categoryOf: (id) => (drawn.get(id) || {}).category,
      render(incidents) {
        const markers = [];
        drawn.clear();
        for (const inc of incidents) {
          if (inc.lon == null || inc.lat == null) continue;
          const size = sevSize[inc.severity] || 12;
          const colour = cfg.colours[inc.category] || "#555";
          const label = _("{category} ({severity}) → {department}", {
            category: name("categories", inc.category),
            severity: _(inc.severity),
            department: name("departments", inc.department),
          });
          const pin = document.createElement("span");  // built as DOM: no ids parsed as HTML
          pin.className = "pin sev-" + inc.severity;
          pin.dataset.incident = inc.id;
          pin.dataset.category = inc.category;
          Object.assign(pin.style, { background: colour, width: size + "px", height: size + "px" });
          const icon = L.divIcon({ className: "incident-marker", html: pin, iconSize: [size, size] });
          const mk = L.marker([inc.lat, inc.lon], { icon: icon, title: label, alt: label, keyboard: true });
          const open = () => { window.location.href = "/incidents/" + encodeURIComponent(inc.id); };
          mk.on("click", open);
          // Leaflet makes markers focusable buttons; Enter or Space opens the incident too
          mk.on("keypress", (e) => { if (e.originalEvent.key === "Enter" || e.originalEvent.key === " ") open(); });
          markers.push(mk);
          drawn.set(inc.id, { category: inc.category });
        }
        clusters.clearLayers();
        clusters.addLayers(markers);
      },
      cameras(list) {
        for (const c of list || []) {
          const layer = cameras.get(c.id);
          if (!layer) continue;
          layer.setStyle({ fillColor: healthColour[c.status] || healthColour.never });
          layer.setTooltipContent(text(_("camera {id}: {name}", { id: c.id, name: c.name }) + " · " + _(c.status)));
        }
      },
    };
  };
})();
