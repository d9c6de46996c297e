// The map: offline Natural Earth basemap, optional user tiles, zones, sensors, tracks.
/* global L, topojson, pmtiles */

import { config } from "./api.js";
import { t, term } from "./i18n.js";

export const CLASS_COLOURS = {
  drone: "#ff3b3b",
  bird: "#3ddc84",
  aircraft: "#4da3ff",
  helicopter: "#29e0e0",
  unknown: "#a0a8b4",
};
const LEVEL_COLOURS = { critical: "#ff4d4f", warning: "#ffb020", info: "#4da3ff" };
const STATUS_COLOURS = { ok: "#3ddc84", degraded: "#ffb020", silent: "#ff4d4f", unknown: "#8b98a8" };
const HEADING_LOOKAHEAD_S = 30;
const EARTH_R_M = 6371008.8;

// A table's own entry for `key`, else `fallback`: a name from data such as
// "constructor" must not reach an inherited property.
function pick(table, key, fallback) {
  return Object.hasOwn(table, key) ? table[key] : fallback;
}

export function classColour(cls) {
  return pick(CLASS_COLOURS, cls, CLASS_COLOURS.unknown);
}

// Leaflet renders a string given to a tooltip as HTML: every label built from
// data goes in as an element holding plain text instead.
export function textLabel(text) {
  const span = document.createElement("span");
  span.textContent = String(text);
  return span;
}

// One simple shape per class, so that class reads without colour too.
const SYMBOLS = {
  drone: '<path d="M0,-9 L9,0 L0,9 L-9,0 Z"/>',
  bird: '<path d="M-10,-3 L0,4 L10,-3 L0,0 Z"/>',
  aircraft: '<path d="M0,-10 L8,8 L0,4 L-8,8 Z"/>',
  helicopter: '<circle r="7"/><path d="M-10,0 H10 M0,-10 V10" stroke-width="2"/>',
  unknown: '<rect x="-7" y="-7" width="14" height="14"/>',
};

function symbolIcon(cls, headingDeg, selected) {
  const c = classColour(cls);
  const shape = pick(SYMBOLS, cls, SYMBOLS.unknown);
  const ring = selected ? '<circle r="15" fill="none" stroke="#fff" stroke-width="2"/>' : "";
  // Only constants and a number reach this markup (the class picks from SYMBOLS).
  const rot = cls === "aircraft" ? ` transform="rotate(${Number(headingDeg) || 0})"` : "";
  return L.divIcon({
    className: "sym",
    iconSize: [32, 32],
    iconAnchor: [16, 16],
    html:
      `<svg width="32" height="32" viewBox="-16 -16 32 32">${ring}` +
      `<g fill="${c}" stroke="${c}" stroke-width="1.5" fill-opacity="0.9"${rot}>${shape}</g></svg>`,
  });
}

// Point at distance d_m along bearing brg_deg from (lat, lon), on a sphere: good to
// well under a metre at sensor ranges, which is all a drawing needs.
export function destination(lat, lon, brgDeg, dM) {
  const r = Math.PI / 180;
  const d = dM / EARTH_R_M;
  const la1 = lat * r;
  const lo1 = lon * r;
  const b = brgDeg * r;
  const la2 = Math.asin(Math.sin(la1) * Math.cos(d) + Math.cos(la1) * Math.sin(d) * Math.cos(b));
  const lo2 =
    lo1 + Math.atan2(Math.sin(b) * Math.sin(d) * Math.cos(la1), Math.cos(d) - Math.sin(la1) * Math.sin(la2));
  return [la2 / r, lo2 / r];
}

export class AirMap {
  constructor(elementId, onTrackClick) {
    this.map = L.map(elementId, { worldCopyJump: true, zoomSnap: 0.5, zoomControl: false }).setView([20, 0], 2);
    this.zoom = null;
    this.retitle();
    this.onTrackClick = onTrackClick;
    this.selected = null;
    this.fitted = false;
    this.zoneLayer = L.layerGroup().addTo(this.map);
    this.sensorLayer = L.layerGroup().addTo(this.map);
    this.pathLayer = L.layerGroup().addTo(this.map);
    this.trackLayer = L.layerGroup().addTo(this.map);
    this.tracks = new Map(); // id -> {marker, heading, trail, line}
    this.addBasemap();
    this.addUserTiles();
    L.control.scale({ imperial: false }).addTo(this.map);
  }

  async addBasemap() {
    const res = await fetch("/static/vendor/world-atlas/countries-50m.json");
    const topo = await res.json();
    const land = topojson.feature(topo, topo.objects.countries);
    L.geoJSON(land, {
      interactive: false,
      style: { color: "#3a4a5c", weight: 1, fillColor: "#18222d", fillOpacity: 1 },
    }).addTo(this.map);
    this.map.attributionControl.addAttribution("Natural Earth");
    // Keep the basemap under everything else drawn later.
    this.map.eachLayer((l) => l.bringToBack && l instanceof L.GeoJSON && l.bringToBack());
  }

  // Leaflet words its zoom buttons once, when made: remake them in the page's language.
  retitle() {
    if (this.zoom) this.zoom.remove();
    this.zoom = L.control.zoom({ zoomInTitle: t("ui.zoom_in"), zoomOutTitle: t("ui.zoom_out") }).addTo(this.map);
  }

  addUserTiles() {
    const url = config.tilesUrl;
    if (!url) return;
    // Leaflet writes attributions as HTML: the configured one goes in escaped, as text.
    const attribution = textLabel(config.tilesAttribution).innerHTML;
    const opts = { attribution, maxZoom: config.tilesMaxZoom };
    if (url.startsWith("pmtiles://")) {
      pmtiles.leafletRasterLayer(new pmtiles.PMTiles(url.slice("pmtiles://".length)), opts).addTo(this.map);
    } else {
      L.tileLayer(url, opts).addTo(this.map);
    }
  }

  setZones(fc) {
    this.zoneLayer.clearLayers();
    L.geoJSON(fc, {
      style: { color: "#ffd480", weight: 2, dashArray: "6 4", fillColor: "#ffd480", fillOpacity: 0.08 },
      onEachFeature: (f, layer) =>
        layer.bindTooltip(textLabel((f.properties && f.properties.name) || f.id), {
          permanent: true,
          direction: "center",
          className: "label zone-label",
        }),
    }).addTo(this.zoneLayer);
  }

  setSensors(sensors) {
    this.sensorLayer.clearLayers();
    for (const s of sensors) {
      const c = pick(STATUS_COLOURS, s.status, STATUS_COLOURS.unknown);
      if (s.max_range_m) {
        const fov = s.fov;
        const full = !fov || ((fov.az_min_deg ?? 0) === 0 && (fov.az_max_deg ?? 360) === 360);
        if (full) {
          L.circle([s.lat, s.lon], { radius: s.max_range_m, color: c, weight: 1, fillOpacity: 0.03, interactive: false })
            .addTo(this.sensorLayer);
        } else {
          let a0 = fov.az_min_deg;
          let a1 = fov.az_max_deg;
          if (a1 < a0) a1 += 360; // sector wraps through north
          const pts = [[s.lat, s.lon]];
          for (let a = a0; a <= a1 + 1e-9; a += Math.max(1, (a1 - a0) / 48)) {
            pts.push(destination(s.lat, s.lon, a, s.max_range_m));
          }
          pts.push([s.lat, s.lon]);
          L.polygon(pts, { color: c, weight: 1, fillOpacity: 0.03, interactive: false }).addTo(this.sensorLayer);
        }
      }
      L.circleMarker([s.lat, s.lon], { radius: 6, color: "#000", weight: 1, fillColor: c, fillOpacity: 1 })
        .bindTooltip(
          textLabel(t("ui.sensor.label", { id: s.id, kind: term("sensor_kind", s.kind), status: term("sensor_status", s.status) })),
          { className: "label" },
        )
        .addTo(this.sensorLayer);
    }
    if (!this.fitted && sensors.length) {
      const b = L.latLngBounds(sensors.map((s) => [s.lat, s.lon]));
      const r = Math.max(...sensors.map((s) => s.max_range_m || 2000));
      this.map.setView(b.getCenter(), Math.min(15, Math.max(10, 16 - Math.log2(r / 500))));
      this.fitted = true;
    }
  }

  // tracks: [{id, lat, lon, alt_m, vel_enu_mps, class, ...}]; trails: id -> [[lon, lat, alt, t], ...]
  setTracks(tracks, trails) {
    const seen = new Set();
    for (const tr of tracks) {
      seen.add(tr.id);
      const [ve, vn] = tr.vel_enu_mps;
      const speed = Math.hypot(ve, vn);
      const hdg = ((Math.atan2(ve, vn) * 180) / Math.PI + 360) % 360;
      const head = destination(tr.lat, tr.lon, hdg, speed * HEADING_LOOKAHEAD_S);
      const trail = (trails.get(tr.id) || []).map((p) => [p[1], p[0]]);
      const colour = classColour(tr.class);
      let g = this.tracks.get(tr.id);
      if (!g) {
        g = {
          trail: L.polyline(trail, { color: colour, weight: 2, opacity: 0.6, interactive: false }).addTo(this.trackLayer),
          heading: L.polyline([[tr.lat, tr.lon], head], { color: colour, weight: 2, interactive: false }).addTo(this.trackLayer),
          marker: L.marker([tr.lat, tr.lon], { icon: symbolIcon(tr.class, hdg, false), keyboard: false })
            .bindTooltip(textLabel(""), { permanent: true, direction: "top", offset: [0, -14], className: "label" })
            .on("click", () => this.onTrackClick(g.id))
            .addTo(this.trackLayer),
        };
        g.id = tr.id;
        this.tracks.set(tr.id, g);
      }
      g.marker.setLatLng([tr.lat, tr.lon]);
      g.marker.setIcon(symbolIcon(tr.class, hdg, this.selected === tr.id));
      g.marker.setTooltipContent(
        textLabel(t("ui.track.label", { id: tr.id, object: term("class", tr.class), alt: Math.round(tr.alt_m) })),
      );
      g.heading.setLatLngs([[tr.lat, tr.lon], head]).setStyle({ color: colour });
      g.trail.setLatLngs(trail).setStyle({ color: colour });
      g.last = tr;
    }
    for (const [id, g] of this.tracks) {
      if (!seen.has(id)) {
        this.trackLayer.removeLayer(g.marker).removeLayer(g.heading).removeLayer(g.trail);
        this.tracks.delete(id);
      }
    }
  }

  // Dashed line from each alerted track to where it is predicted to enter the zone.
  setPredictedPaths(alerts) {
    this.pathLayer.clearLayers();
    for (const a of alerts) {
      const g = this.tracks.get(a.track);
      if (!g || a.entry_lat == null || a.entry_lon == null) continue;
      const c = pick(LEVEL_COLOURS, a.level, LEVEL_COLOURS.info);
      L.polyline([[g.last.lat, g.last.lon], [a.entry_lat, a.entry_lon]], {
        color: c, weight: 3, dashArray: "8 6", interactive: false,
      }).addTo(this.pathLayer);
      L.circleMarker([a.entry_lat, a.entry_lon], { radius: 5, color: c, fillOpacity: 1, interactive: false })
        .addTo(this.pathLayer);
    }
  }

  select(id) {
    this.selected = id;
  }
}
