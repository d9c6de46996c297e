// The map: offline Natural Earth basemap, optional user tiles, zones, sensors, tracks.
/* global L, topojson, pmtiles */

import { config } from "./api.js";
import { FilterControl } from "./filters.js";
import { t, term } from "./i18n.js";
import { siteColours } from "./sites.js";
import { CLASS_COLOURS, TrackLayer } from "./tracklayer.js";

export { CLASS_COLOURS };

const STATUS_COLOURS = { ok: "#3ddc84", degraded: "#ffb020", silent: "#ff4d4f", unknown: "#8b98a8" };
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
    this.fitted = false;
    this.fittedTo = 0; // a region's map: how many sensors the view was fitted to
    this.zoneLayer = L.layerGroup().addTo(this.map);
    this.sensorLayer = L.layerGroup().addTo(this.map);
    this.siteColours = new Map();
    this.tracks = new TrackLayer({
      labelText: (tr) => {
        const label = t("ui.track.label", { id: tr.id, object: term("class", tr.class), alt: Math.round(tr.alt_m) });
        return Array.isArray(tr.sites) && tr.sites.length
          ? t("ui.track.label_sites", { label, sites: tr.sites.join("+") })
          : label;
      },
      onClick: (id) => this.onTrackClick(id),
      onCounts: (counts) => this.filters.setCounts(counts),
    });
    this.filters = new FilterControl((classes, levels, sites) => this.tracks.setFilter(classes, levels, sites)).addTo(
      this.map,
    );
    this.tracks.addTo(this.map);
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
    if (this.filters) this.filters.relabel();
    if (this.tracks) this.tracks.requestRedraw();
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
    // Track labels keep clear of the zones' names (drawn at each zone's centre).
    const names = [];
    this.zoneLayer.eachLayer((group) =>
      group.eachLayer((layer) => {
        const c = layer.getCenter();
        names.push({ lat: c.lat, lon: c.lng, text: layer.getTooltip().getContent().textContent });
      }),
    );
    this.tracks.setObstacles(names);
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
    if (config.regional) {
      // A region's sites join one by one and stand far apart: the view takes in every
      // sensor's coverage, again whenever more sensors come.
      if (sensors.length > this.fittedTo) {
        let b = null;
        for (const s of sensors) {
          const area = L.latLng(s.lat, s.lon).toBounds(2 * (s.max_range_m || 2000));
          b = b ? b.extend(area) : area;
        }
        this.map.fitBounds(b, { maxZoom: 15 });
        this.fittedTo = sensors.length;
      }
    } else if (!this.fitted && sensors.length) {
      const b = L.latLngBounds(sensors.map((s) => [s.lat, s.lon]));
      const r = Math.max(...sensors.map((s) => s.max_range_m || 2000));
      this.map.setView(b.getCenter(), Math.min(15, Math.max(10, 16 - Math.log2(r / 500))));
      this.fitted = true;
    }
  }

  // tracks: [{id, lat, lon, alt_m, vel_enu_mps, class, ...}]; trails: id -> [[lon, lat, alt, t], ...]
  setTracks(tracks, trails) {
    this.tracks.setData(tracks, trails);
  }

  // Open alerts: the tracks they name are drawn on top, ringed in the level's colour,
  // with a dashed line to where each is predicted to enter the zone.
  setPredictedPaths(alerts) {
    this.tracks.setAlerts(alerts);
  }

  select(id) {
    this.tracks.setSelected(id);
  }

  // A region's sites (/api/sites rows): their colours, and a filter box each.
  setSites(rows) {
    this.siteColours = siteColours(rows);
    this.tracks.setSites(this.siteColours);
    this.filters.setSites(
      rows.map((r) => String(r.site)),
      this.siteColours,
    );
  }
}
