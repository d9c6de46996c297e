// The air picture on one canvas: trails, headings, predicted paths and a symbol per
// track, instead of one DOM element per object, so that thousands of tracks cost
// milliseconds. Tracks on alert are drawn last, most urgent on top. Hover and click
// are found by distance to the drawn symbols; labels are decluttered (labels.js).
//
// What the drawing costs is mostly rasterising, and without a GPU Chromium does that
// on the page's own thread. Measured there (bench/map_scale.py): lines one pixel wide
// are several times cheaper than wider ones, a small path filled per symbol is cheaper
// than one big path for all of them, and a dashed line costs several solid ones. Hence
// hairline trails thinned to a point every few pixels, hairline headings and predicted
// paths, opaque symbols filled one by one, and alert rings stamped from a bitmap.
//
// The canvas follows Leaflet's own renderers: it covers the view plus a margin, pans
// with the map pane, is scaled by CSS during a zoom animation and redrawn when the
// move or zoom ends.
/* global L */

import { centredBox, LabelPane, placeLabels, textWidth } from "./labels.js";
import { NO_SITE_COLOUR } from "./sites.js";

export const CLASSES = ["drone", "bird", "aircraft", "helicopter", "unknown"];
// Alert levels by rank; rank 0 is a track with no open alert.
export const LEVELS = ["none", "info", "warning", "critical"];
export const CLASS_COLOURS = {
  drone: "#ff3b3b",
  bird: "#3ddc84",
  aircraft: "#4da3ff",
  helicopter: "#29e0e0",
  unknown: "#a0a8b4",
};
export const LEVEL_COLOURS = { critical: "#ff4d4f", warning: "#ffb020", info: "#4da3ff" };

const PAD = 0.1; // margin drawn beyond the view on each side, as a fraction of its size
const HIT_PX = 12; // a pointer this close to a symbol's centre is on it
const HEADING_LOOKAHEAD_S = 30;
const EARTH_R_M = 6371008.8;
const MAX_LAT = 85.0511287798; // Web Mercator's limit, as Leaflet's
// Labels for every track in view only when this few are in view (or zoomed this close).
const LABEL_ALL_MAX = 40;
const LABEL_CLOSE_ZOOM = 16;
const LABEL_MAX = 30; // labels placed at most, besides the hovered and selected one
const LABEL_ALERT_RANK = 2; // tracks on alert at this level or above are labelled unasked
const BOLD_WIDTH = 1.1; // a bold label (a zone's name) is about this much wider
const MIN_STEP_PX = 3; // trail points closer than this to the last one drawn are skipped
// A scan's alerts come just before its tracks: an alert change waits this long for them,
// so that a scan is drawn once, not twice.
const ALERT_WAIT_MS = 250;
const UNKNOWN = CLASSES.indexOf("unknown");
const CLASS_INDEX = new Map(CLASSES.map((c, i) => [c, i]));
const RANK = new Map(LEVELS.map((l, i) => [l, i]));

// Web Mercator at zoom 0 in Leaflet's pixels (EPSG:3857, 256 px world): a track is
// projected once per update, and each drawing only scales and shifts.
function mercX(lon) {
  return 256 * (lon / 360 + 0.5);
}
function mercY(lat) {
  const s = Math.sin((Math.max(-MAX_LAT, Math.min(MAX_LAT, lat)) * Math.PI) / 180);
  return 256 * (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI));
}

function grow(arr, n) {
  if (arr.length >= n) return arr;
  let size = Math.max(64, arr.length);
  while (size < n) size *= 2;
  return new arr.constructor(size);
}

// A symbol's path about (x, y): the shapes the page always used (their outline now
// part of the fill), so that class reads without colour too.
const AIRCRAFT = [[0, -11], [9, 9], [0, 5], [-9, 9]];
function addSymbol(ctx, cls, x, y, cosH, sinH) {
  switch (cls) {
    case 0: // drone: diamond
      ctx.moveTo(x, y - 10);
      ctx.lineTo(x + 10, y);
      ctx.lineTo(x, y + 10);
      ctx.lineTo(x - 10, y);
      ctx.closePath();
      break;
    case 1: // bird: chevron
      ctx.moveTo(x - 11, y - 4);
      ctx.lineTo(x, y + 5);
      ctx.lineTo(x + 11, y - 4);
      ctx.lineTo(x, y - 1);
      ctx.closePath();
      break;
    case 2: // aircraft: arrowhead along its heading
      AIRCRAFT.forEach(([px, py], k) => {
        const rx = x + px * cosH - py * sinH;
        const ry = y + px * sinH + py * cosH;
        if (k === 0) ctx.moveTo(rx, ry);
        else ctx.lineTo(rx, ry);
      });
      ctx.closePath();
      break;
    case 3: // helicopter: disc and rotor cross
      ctx.moveTo(x + 8, y);
      ctx.arc(x, y, 8, 0, 2 * Math.PI);
      ctx.rect(x - 11, y - 1, 22, 2);
      ctx.rect(x - 1, y - 11, 2, 22);
      break;
    default: // unknown: square
      ctx.rect(x - 8, y - 8, 16, 16);
  }
}

// A ring of `colour` r px across `width`, as a bitmap at the screen's pixel ratio.
function ringSprite(colour, r, width, dpr) {
  const size = Math.ceil(2 * (r + width));
  const c = document.createElement("canvas");
  c.width = Math.ceil(size * dpr);
  c.height = Math.ceil(size * dpr);
  const ctx = c.getContext("2d");
  ctx.scale(dpr, dpr);
  ctx.strokeStyle = colour;
  ctx.lineWidth = width;
  ctx.beginPath();
  ctx.arc(size / 2, size / 2, r, 0, 2 * Math.PI);
  ctx.stroke();
  return { canvas: c, size };
}

export const TrackLayer = L.Layer.extend({
  // options: labelText(track) -> string; onClick(id); onCounts({classes, levels, shown, total}).
  initialize(options) {
    L.setOptions(this, options);
    this.n = 0;
    this.tracks = [];
    this.index = new Map(); // id -> row
    this.cls = new Uint8Array(0);
    this.px = new Float64Array(0); // zoom-0 position
    this.py = new Float64Array(0);
    this.hx = new Float64Array(0); // zoom-0 heading vector over the lookahead
    this.hy = new Float64Array(0);
    this.cosH = new Float32Array(0);
    this.sinH = new Float32Array(0);
    this.trailStart = new Int32Array(1);
    this.tx = new Float64Array(0);
    this.ty = new Float64Array(0);
    this.level = new Uint8Array(0);
    this.sx = new Float32Array(0); // on the canvas, at the last drawing
    this.sy = new Float32Array(0);
    this.drawn = new Int32Array(0); // rows drawn, in drawing order
    this.nDrawn = 0;
    this.alerts = [];
    this.alertsRead = true;
    this.alertWait = 0;
    this.alertOf = new Map(); // track id -> {rank, tta}
    this.paths = []; // [{id, rank, x, y}] predicted entry points, zoom 0
    this.obstacles = []; // [{x, y, w}] other labels on the map (zone names), zoom 0
    this.classOn = CLASSES.map(() => true);
    this.levelOn = LEVELS.map(() => true);
    // A region's tracks name their sites: coloured by the first, hidden when none is ticked.
    this.siteColour = new Map(); // site id -> colour
    this.siteOn = new Map(); // site id -> shown (a site not named is shown)
    this.siteCol = []; // per row at the last drawing: its site's colour, or null (a site's own track)
    this.selected = null;
    this.hover = null;
    this.show = null; // which rows the filters showed at the last drawing
    this.zooming = false;
    this.frame = 0;
    this.lastCounts = "";
    this.rings = new Map(); // "colour ratio" -> alert ring bitmap
  },

  onAdd(map) {
    const pane = map.getPane("skywardenTracks") || map.createPane("skywardenTracks");
    pane.style.zIndex = 450; // over zones and sensors (400), under tooltips (650)
    pane.style.pointerEvents = "none";
    this.canvas = L.DomUtil.create("canvas", "skywarden-tracks leaflet-zoom-animated", pane);
    this.ctx = this.canvas.getContext("2d");
    const labelPane = map.getPane("skywardenLabels") || map.createPane("skywardenLabels");
    labelPane.style.zIndex = 640;
    labelPane.style.pointerEvents = "none";
    labelPane.classList.add("leaflet-zoom-hide");
    this.labels = new LabelPane(labelPane);
    this.hoverLabel = new LabelPane(labelPane);
    this.hoverRing = L.DomUtil.create("div", "track-hover-ring", labelPane);
    this.hoverRing.hidden = true;
    this.place();
    this.draw();
  },

  onRemove() {
    cancelAnimationFrame(this.frame);
    clearTimeout(this.alertWait);
    this.frame = 0;
    this.alertWait = 0;
    this.canvas.remove();
    this.labels.show([]);
    this.hoverLabel.show([]);
    this.hoverRing.remove();
  },

  getEvents() {
    return {
      viewreset: this.redrawNow,
      moveend: this.redrawNow,
      zoom: this.onZoom,
      zoomanim: this.onAnimZoom,
      mousemove: this.onMouseMove,
      mouseout: this.onMouseOut,
      click: this.onMapClick,
    };
  },

  // --- data in ---

  // tracks: [{id, lat, lon, vel_enu_mps, class, ...}]; trails: id -> [[lon, lat, alt, t], ...]
  setData(tracks, trails) {
    const n = tracks.length;
    let nTrail = 0;
    for (const tr of tracks) nTrail += (trails.get(tr.id) || []).length;
    this.cls = grow(this.cls, n);
    for (const k of ["px", "py", "hx", "hy", "cosH", "sinH", "sx", "sy"]) this[k] = grow(this[k], n);
    this.level = grow(this.level, n);
    this.drawn = grow(this.drawn, n);
    this.trailStart = grow(this.trailStart, n + 1);
    this.tx = grow(this.tx, nTrail);
    this.ty = grow(this.ty, nTrail);
    this.index = new Map();
    let j = 0;
    for (let i = 0; i < n; i++) {
      const tr = tracks[i];
      this.index.set(tr.id, i);
      this.cls[i] = CLASS_INDEX.get(tr.class) ?? UNKNOWN;
      this.px[i] = mercX(tr.lon);
      this.py[i] = mercY(tr.lat);
      const [ve, vn] = tr.vel_enu_mps;
      // Mercator keeps angles: the heading is the velocity's direction, and its length
      // the distance flown over the lookahead, at this latitude's scale.
      const pxPerM = 256 / (2 * Math.PI * EARTH_R_M * Math.cos((tr.lat * Math.PI) / 180));
      this.hx[i] = ve * HEADING_LOOKAHEAD_S * pxPerM;
      this.hy[i] = -vn * HEADING_LOOKAHEAD_S * pxPerM;
      const speed = Math.hypot(ve, vn);
      // The rotation (clockwise on screen) that turns a north-up symbol to the heading.
      this.cosH[i] = speed > 0 ? vn / speed : 1;
      this.sinH[i] = speed > 0 ? ve / speed : 0;
      this.trailStart[i] = j;
      for (const p of trails.get(tr.id) || []) {
        this.tx[j] = mercX(p[0]);
        this.ty[j] = mercY(p[1]);
        j++;
      }
    }
    this.trailStart[n] = j;
    this.n = n;
    this.tracks = tracks;
    // Rows now name other tracks than at the last drawing: nothing to hit until the next.
    this.show = null;
    this.nDrawn = 0;
    this.requestRedraw();
  },

  // Open alerts, read at the next drawing (a swarm's alerts come as many messages).
  setAlerts(alerts) {
    this.alerts = alerts;
    this.alertsRead = false;
    if (!this.alertWait) {
      this.alertWait = setTimeout(() => {
        this.alertWait = 0;
        this.requestRedraw();
      }, ALERT_WAIT_MS);
    }
  },

  // Each alerted track's most urgent level (ties: the soonest arrival), and the
  // predicted entry points.
  readAlerts() {
    clearTimeout(this.alertWait);
    this.alertWait = 0;
    this.alertsRead = true;
    this.alertOf = new Map();
    this.paths = [];
    for (const a of this.alerts) {
      if (a.track == null) continue;
      const rank = RANK.get(a.level) ?? 0;
      const tta = a.tta_s ?? Infinity;
      const cur = this.alertOf.get(a.track);
      if (!cur || rank > cur.rank || (rank === cur.rank && tta < cur.tta)) this.alertOf.set(a.track, { rank, tta });
      if (a.entry_lat != null && a.entry_lon != null) {
        this.paths.push({ id: a.track, rank, x: mercX(a.entry_lon), y: mercY(a.entry_lat) });
      }
    }
  },

  // Labels of the map's own that track labels keep clear of: [{lat, lon, text}].
  setObstacles(labels) {
    this.obstacles = labels.map((l) => ({ x: mercX(l.lon), y: mercY(l.lat), w: textWidth(l.text) * BOLD_WIDTH }));
    this.requestRedraw();
  },

  setSelected(id) {
    this.selected = id;
    this.requestRedraw();
  },

  // classOn, levelOn: {name: shown}; unnamed ones stay as they are. siteOn: {site: shown},
  // the whole of it (a site not in it is shown).
  setFilter(classOn, levelOn, siteOn = {}) {
    CLASSES.forEach((c, i) => Object.hasOwn(classOn, c) && (this.classOn[i] = Boolean(classOn[c])));
    LEVELS.forEach((l, i) => Object.hasOwn(levelOn, l) && (this.levelOn[i] = Boolean(levelOn[l])));
    this.siteOn = new Map(Object.entries(siteOn).map(([s, on]) => [s, Boolean(on)]));
    this.requestRedraw();
  },

  // colours: site id -> colour (sites.js), for a region's tracks.
  setSites(colours) {
    this.siteColour = colours;
    this.requestRedraw();
  },

  // A region's track (it names its sites) in its first site's colour; null for a site's own.
  trackSiteColour(tr) {
    if (!Array.isArray(tr.sites)) return null;
    return (tr.sites.length && this.siteColour.get(tr.sites[0])) || NO_SITE_COLOUR;
  },

  // Whether the site filter shows a track: a site's own, one no site reports now, or
  // one with at least one of its sites ticked.
  siteShown(tr) {
    if (!Array.isArray(tr.sites) || !tr.sites.length) return true;
    return tr.sites.some((s) => this.siteOn.get(s) !== false);
  },

  // --- drawing ---

  requestRedraw() {
    if (!this._map || this.frame) return;
    const drawTracks = () => {
      this.frame = 0;
      this.draw();
    };
    this.frame = requestAnimationFrame(drawTracks);
  },

  redrawNow() {
    this.zooming = false;
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    this.place();
    this.draw();
  },

  // Size the canvas to the view plus its margin and put it at the view's top left.
  place() {
    const map = this._map;
    const size = map.getSize();
    const min = map.containerPointToLayerPoint(size.multiplyBy(-PAD)).round();
    const w = Math.round(size.x * (1 + 2 * PAD));
    const h = Math.round(size.y * (1 + 2 * PAD));
    const dpr = window.devicePixelRatio || 1;
    this.min = min;
    this.w = w;
    this.h = h;
    this.centre = map.getCenter();
    this.zoom = map.getZoom();
    L.DomUtil.setPosition(this.canvas, min);
    if (this.canvas.width !== Math.round(w * dpr) || this.canvas.height !== Math.round(h * dpr)) {
      this.canvas.width = Math.round(w * dpr);
      this.canvas.height = Math.round(h * dpr);
      this.canvas.style.width = `${w}px`;
      this.canvas.style.height = `${h}px`;
    }
    this.dpr = dpr;
  },

  // During a zoom, scale the last drawing about the zoom's centre (as L.Renderer does).
  updateTransform(centre, zoom) {
    const map = this._map;
    const scale = map.getZoomScale(zoom, this.zoom);
    const viewHalf = map.getSize().multiplyBy(0.5 + PAD);
    const panePos = map.containerPointToLayerPoint([0, 0]).multiplyBy(-1);
    const newOrigin = map.project(centre, zoom).subtract(map.getSize().divideBy(2)).add(panePos).round();
    const topLeft = viewHalf.multiplyBy(-scale).add(map.project(this.centre, zoom)).subtract(newOrigin);
    L.DomUtil.setTransform(this.canvas, topLeft, scale);
  },

  onAnimZoom(ev) {
    this.zooming = true; // symbols are not where the last drawing put them until it ends
    this.updateTransform(ev.center, ev.zoom);
  },

  onZoom() {
    this.updateTransform(this._map.getCenter(), this._map.getZoom());
  },

  draw() {
    if (!this._map) return;
    const map = this._map;
    const ctx = this.ctx;
    const { n, cls, level, sx, sy, tx, ty, trailStart } = this;
    const k = 2 ** this.zoom;
    const origin = map.getPixelOrigin();
    const ox = origin.x + this.min.x;
    const oy = origin.y + this.min.y;
    const w = this.w;
    const h = this.h;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.lineJoin = "round";
    if (!this.alertsRead) this.readAlerts();

    // Where each track is now, its alert level, and whether the filters show it.
    const show = new Uint8Array(n);
    const classCount = CLASSES.map(() => 0);
    const levelCount = LEVELS.map(() => 0);
    const siteCount = {};
    const siteCol = new Array(n);
    let shown = 0;
    for (let i = 0; i < n; i++) {
      const tr = this.tracks[i];
      const a = this.alertOf.get(tr.id);
      level[i] = a ? a.rank : 0;
      classCount[cls[i]]++;
      levelCount[level[i]]++;
      siteCol[i] = this.trackSiteColour(tr);
      if (siteCol[i]) for (const s of tr.sites) siteCount[s] = (siteCount[s] || 0) + 1;
      sx[i] = this.px[i] * k - ox;
      sy[i] = this.py[i] * k - oy;
      if (this.classOn[cls[i]] && this.levelOn[level[i]] && this.siteShown(tr)) {
        show[i] = 1;
        shown++;
      }
    }
    this.siteCol = siteCol;

    // Trails, then headings: one path per colour, the class's (a region's track: its site's).
    const byColour = new Map();
    for (let i = 0; i < n; i++) {
      if (!show[i]) continue;
      const colour = siteCol[i] || CLASS_COLOURS[CLASSES[cls[i]]];
      if (!byColour.has(colour)) byColour.set(colour, []);
      byColour.get(colour).push(i);
    }
    ctx.lineWidth = 1;
    for (const [colour, rows] of byColour) {
      ctx.strokeStyle = colour;
      ctx.globalAlpha = 0.7;
      ctx.beginPath();
      for (const i of rows) {
        const j0 = trailStart[i];
        const j1 = trailStart[i + 1];
        if (j1 - j0 < 2) continue;
        let lx = tx[j0] * k - ox;
        let ly = ty[j0] * k - oy;
        ctx.moveTo(lx, ly);
        for (let j = j0 + 1; j < j1; j++) {
          const x = tx[j] * k - ox;
          const y = ty[j] * k - oy;
          if (j < j1 - 1 && Math.abs(x - lx) < MIN_STEP_PX && Math.abs(y - ly) < MIN_STEP_PX) continue;
          ctx.lineTo(x, y);
          lx = x;
          ly = y;
        }
      }
      ctx.stroke();
      ctx.globalAlpha = 1;
      ctx.beginPath();
      for (const i of rows) {
        ctx.moveTo(sx[i], sy[i]);
        ctx.lineTo(sx[i] + this.hx[i] * k, sy[i] + this.hy[i] * k);
      }
      ctx.stroke();
    }

    // Predicted paths to the zone, dashed, by level.
    ctx.setLineDash([6, 4]);
    for (let r = 1; r < LEVELS.length; r++) {
      ctx.strokeStyle = LEVEL_COLOURS[LEVELS[r]];
      ctx.beginPath();
      for (const p of this.paths) {
        const i = this.index.get(p.id);
        if (p.rank !== r || i === undefined || !show[i]) continue;
        ctx.moveTo(sx[i], sy[i]);
        ctx.lineTo(p.x * k - ox, p.y * k - oy);
      }
      ctx.stroke();
    }
    ctx.setLineDash([]);
    for (let r = 1; r < LEVELS.length; r++) {
      ctx.fillStyle = LEVEL_COLOURS[LEVELS[r]];
      ctx.beginPath();
      for (const p of this.paths) {
        const i = this.index.get(p.id);
        if (p.rank !== r || i === undefined || !show[i]) continue;
        const x = p.x * k - ox;
        const y = p.y * k - oy;
        ctx.moveTo(x + 5, y);
        ctx.arc(x, y, 5, 0, 2 * Math.PI);
      }
      ctx.fill();
    }

    // Symbols: no alert first, then info, warning and critical over them, each level
    // ringed in its colour; the drawing order is also the order hits prefer.
    const inView = (i) => sx[i] > -20 && sx[i] < w + 20 && sy[i] > -20 && sy[i] < h + 20;
    let nDrawn = 0;
    for (let r = 0; r < LEVELS.length; r++) {
      const rows = [];
      for (let i = 0; i < n; i++) if (show[i] && level[i] === r && inView(i)) rows.push(i);
      if (!rows.length) continue;
      if (r > 0) {
        const ring = this.ring(LEVEL_COLOURS[LEVELS[r]]);
        const half = ring.size / 2;
        for (const i of rows) {
          ctx.drawImage(ring.canvas, Math.round(sx[i] - half), Math.round(sy[i] - half), ring.size, ring.size);
        }
      }
      this.drawSymbols(rows);
      for (const i of rows) this.drawn[nDrawn++] = i;
    }
    this.nDrawn = nDrawn;

    // The selected track: ringed in white, drawn once more on top.
    const sel = this.selected == null ? undefined : this.index.get(this.selected);
    if (sel !== undefined && show[sel]) {
      ctx.strokeStyle = "#fff";
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.arc(sx[sel], sy[sel], 15, 0, 2 * Math.PI);
      ctx.stroke();
      this.drawSymbols([sel]);
    }

    this.show = show;
    this.drawLabels(show);
    this.showHover();
    const counts = {
      classes: Object.fromEntries(CLASSES.map((c, i) => [c, classCount[i]])),
      levels: Object.fromEntries(LEVELS.map((l, i) => [l, levelCount[i]])),
      sites: siteCount,
      shown,
      total: n,
    };
    const key = JSON.stringify(counts);
    if (key !== this.lastCounts && this.options.onCounts) {
      this.lastCounts = key;
      this.options.onCounts(counts);
    }
  },

  // Symbols of `rows`, one small path filled at a time (a region's track outlined in
  // its site's colour, the fill staying its class's).
  drawSymbols(rows) {
    const { ctx, cls, sx, sy, cosH, sinH, siteCol } = this;
    ctx.lineWidth = 2;
    for (let c = 0; c < CLASSES.length; c++) {
      ctx.fillStyle = CLASS_COLOURS[CLASSES[c]];
      for (const i of rows) {
        if (cls[i] !== c) continue;
        ctx.beginPath();
        addSymbol(ctx, c, sx[i], sy[i], cosH[i], sinH[i]);
        ctx.fill();
        if (siteCol[i]) {
          ctx.strokeStyle = siteCol[i];
          ctx.stroke();
        }
      }
    }
  },

  // The ring that marks an alert level, made once per colour and pixel ratio.
  ring(colour) {
    const key = `${colour} ${this.dpr}`;
    if (!this.rings.has(key)) this.rings.set(key, ringSprite(colour, 13, 2.5, this.dpr));
    return this.rings.get(key);
  },

  // Labels: the selected track always; tracks on alert, most urgent and soonest first;
  // every other track only when few are in view or zoomed in close. (The hovered one
  // has its own, showHover.)
  drawLabels(show) {
    const { sx, sy, level, tracks } = this;
    const sel = this.selected == null ? undefined : this.index.get(this.selected);
    const viewW = this.w / (1 + 2 * PAD);
    const viewH = this.h / (1 + 2 * PAD);
    const mx = this.w * (PAD / (1 + 2 * PAD));
    const my = this.h * (PAD / (1 + 2 * PAD));
    const visible = [];
    for (let d = 0; d < this.nDrawn; d++) {
      const i = this.drawn[d];
      if (sx[i] >= mx && sx[i] <= mx + viewW && sy[i] >= my && sy[i] <= my + viewH) visible.push(i);
    }
    const all = visible.length <= LABEL_ALL_MAX || this.zoom >= LABEL_CLOSE_ZOOM;
    const alerted = visible.filter((i) => level[i] >= LABEL_ALERT_RANK || (all && level[i] > 0));
    alerted.sort((a, b) => level[b] - level[a] || this.alertOf.get(tracks[a].id).tta - this.alertOf.get(tracks[b].id).tta);
    const order = [];
    if (sel !== undefined && show[sel]) order.push([sel, true]);
    for (const i of alerted) order.push([i, false]);
    if (all) for (const i of visible) if (level[i] === 0) order.push([i, false]);
    const seen = new Set();
    const candidates = [];
    for (const [i, forced] of order) {
      if (seen.has(i)) continue;
      seen.add(i);
      candidates.push({ key: tracks[i].id, i, forced, x: sx[i], y: sy[i], text: () => this.options.labelText(tracks[i]) });
    }
    const k = 2 ** this.zoom;
    const origin = this._map.getPixelOrigin();
    const taken = this.obstacles.map((o) =>
      centredBox(o.x * k - origin.x - this.min.x, o.y * k - origin.y - this.min.y, o.w),
    );
    const placed = placeLabels(candidates, LABEL_MAX, taken);
    this.labels.show(
      placed.map((p) => ({
        key: p.key,
        text: p.text,
        x: p.x + this.min.x,
        y: p.y + this.min.y,
        tone: level[p.i] > 0 ? LEVELS[level[p.i]] : "",
        colour: this.siteCol[p.i],
      })),
    );
  },

  // --- pointer ---

  // The drawn track nearest to a layer point, within HIT_PX; ties go to the one on top.
  hit(layerPoint) {
    if (!this.min) return null;
    const x = layerPoint.x - this.min.x;
    const y = layerPoint.y - this.min.y;
    let best = null;
    let bestD = HIT_PX * HIT_PX;
    for (let d = 0; d < this.nDrawn; d++) {
      const i = this.drawn[d];
      const dd = (this.sx[i] - x) ** 2 + (this.sy[i] - y) ** 2;
      if (dd <= bestD) {
        bestD = dd;
        best = this.tracks[i].id;
      }
    }
    return best;
  },

  setHover(id) {
    if (id === this.hover) return;
    this.hover = id;
    this._map.getContainer().classList.toggle("track-hover", id != null);
    this.showHover();
  },

  // The hovered track's ring and label are two elements over the canvas, so that a
  // pointer sweeping over thousands of tracks never has them drawn again.
  showHover() {
    const i = this.hover == null ? undefined : this.index.get(this.hover);
    const on = i !== undefined && this.show && this.show[i] && this.min;
    this.hoverRing.hidden = !on;
    if (!on) {
      this.hoverLabel.show([]);
      return;
    }
    const x = this.sx[i] + this.min.x;
    const y = this.sy[i] + this.min.y;
    this.hoverRing.style.left = `${Math.round(x)}px`;
    this.hoverRing.style.top = `${Math.round(y)}px`;
    const key = this.tracks[i].id;
    const labelled = this.labels.shown.has(key);
    const tone = this.level[i] > 0 ? LEVELS[this.level[i]] : "";
    const text = labelled ? null : this.options.labelText(this.tracks[i]);
    const colour = this.siteCol[i];
    this.hoverLabel.show(labelled ? [] : [{ key, text, x, y, tone: tone ? `hovered ${tone}` : "hovered", colour }]);
  },

  onMouseMove(ev) {
    if (this.zooming) return;
    this.setHover(this.hit(ev.layerPoint));
  },

  onMouseOut() {
    this.setHover(null);
  },

  onMapClick(ev) {
    const id = this.hit(ev.layerPoint);
    if (id != null && this.options.onClick) this.options.onClick(id);
  },
});
