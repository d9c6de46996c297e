// Side panels: the alert list (most urgent first, live countdown) and track details.

import { language, t, term } from "./i18n.js";
import { classColour } from "./map.js";

const LEVEL_RANK = { critical: 0, warning: 1, info: 2 };
// The page's faces (style.css): a canvas does not inherit them, and Hangul needs one.
const CANVAS_FONT = '"DejaVu Sans", "NanumGothic", "Noto Sans CJK KR", sans-serif';

export function fmtTime(tS) {
  if (tS == null) return "—";
  return new Date(tS * 1000).toISOString().slice(11, 19) + "Z";
}

function fmtCountdown(s) {
  if (s == null) return "";
  if (s <= 0) return t("ui.alert.inside");
  const m = Math.floor(s / 60);
  const sec = Math.floor(s % 60);
  return `${m}:${String(sec).padStart(2, "0")}`;
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

// Time to arrival now: the alert's tta minus the data time elapsed since it was made.
export function ttaNow(alert, dataNowS) {
  if (alert.tta_s == null) return null;
  return Math.max(0, alert.tta_s - Math.max(0, dataNowS - alert.t));
}

export function sortAlerts(alerts, dataNowS) {
  return [...alerts].sort((a, b) => {
    const r = (LEVEL_RANK[a.level] ?? 3) - (LEVEL_RANK[b.level] ?? 3);
    if (r) return r;
    const ta = ttaNow(a, dataNowS) ?? Infinity;
    const tb = ttaNow(b, dataNowS) ?? Infinity;
    return ta - tb || b.t - a.t;
  });
}

// A zone as the alert list names it: its name (from the site's zones) and its id.
function zoneLabel(id, zoneNames) {
  const name = zoneNames && zoneNames.get(id);
  return name && name !== id ? `${name} (${id})` : String(id ?? "");
}

// Track alerts for one zone are listed as one group from this many on: a swarm of
// fifty is one line (its zone, how many, the first arrival), opened on demand.
export const GROUP_MIN = 3;

// Items in list order: an alert alone, or {zone, alerts} for a zone's group (placed
// where its most urgent alert would be; its alerts in urgency order).
// A sensor alert in the operator's language from its cause code; the English reason
// only for events of versions that sent no code.
function sensorText(a) {
  if (a.cause) {
    return t(`ui.alert.cause.${a.cause}`, { sensor: a.sensor, seconds: Math.round(a.silent_s ?? 0) });
  }
  return a.reason ? t("ui.alert.sensor_reason", { sensor: a.sensor, reason: a.reason }) : t("ui.alert.sensor", { sensor: a.sensor });
}

export function groupAlerts(alerts, dataNowS) {
  const sorted = sortAlerts(alerts, dataNowS);
  const byZone = new Map();
  for (const a of sorted) {
    if (a.kind === "sensor" || a.zone == null) continue;
    if (!byZone.has(a.zone)) byZone.set(a.zone, []);
    byZone.get(a.zone).push(a);
  }
  const out = [];
  const placed = new Set();
  for (const a of sorted) {
    const members = a.kind === "sensor" || a.zone == null ? null : byZone.get(a.zone);
    if (!members || members.length < GROUP_MIN) out.push(a);
    else if (!placed.has(a.zone)) {
      placed.add(a.zone);
      out.push({ group: a.zone, alerts: members });
    }
  }
  return out;
}

// Earliest time to arrival now among `alerts`, or null.
function firstArrival(alerts, dataNowS) {
  let best = null;
  for (const a of alerts) {
    const tta = ttaNow(a, dataNowS);
    if (tta != null && (best == null || tta < best)) best = tta;
  }
  return best;
}

// The list is patched, not rebuilt: an element per alert and per group is kept while
// it is open and its words updated in place, so that an update arriving between a
// press and a release never swallows an Acknowledge click, nor moves the focus.
const items = new Map(); // alert id -> {li, parts, tail, tailKey, alert, opts}
const groups = new Map(); // zone id -> {li, parts, members, opts}
const expanded = new Set(); // zones whose group is open
let pending = null; // [alerts, opts] to draw
let frame = 0;

// Put `nodes` in `parent` in this order, moving only what is out of place.
function syncChildren(parent, nodes) {
  let cur = parent.firstChild;
  for (const n of nodes) {
    if (n === cur) cur = cur.nextSibling;
    else parent.insertBefore(n, cur);
  }
  while (cur) {
    const next = cur.nextSibling;
    cur.remove();
    cur = next;
  }
}

function alertItem(a, opts) {
  let item = items.get(a.id);
  if (!item) {
    const parts = {
      level: el("span", { class: "level" }),
      escalated: el("span", { class: "escalated" }),
      tta: el("span", { class: "tta", "data-tta": a.id }),
      what: el("div", { class: "what" }),
      since: el("div", { class: "quiet" }),
    };
    const li = el(
      "li",
      { "data-alert": a.id },
      el("div", { class: "head" }, parts.level, parts.escalated, parts.tta),
      parts.what,
      parts.since,
    );
    item = { li, parts, tail: null, tailKey: null };
    li.addEventListener("click", (ev) => {
      ev.stopPropagation(); // not its group's click as well
      if (item.alert.track) item.opts.onSelect(item.alert.track);
    });
    items.set(a.id, item);
  }
  item.alert = a;
  item.opts = opts;
  const { parts, li } = item;
  li.className = `alert ${a.level}${a.ack ? " acked" : ""}`;
  parts.level.textContent = t("ui.alert.heading", { level: term("level", a.level), state: term("state", a.state) });
  parts.escalated.hidden = !a.escalated;
  parts.escalated.textContent = a.escalated ? t("ui.alert.escalated") : "";
  parts.escalated.title = a.escalated ? t("ui.alert.escalated_to", { to: a.escalated.to, time: fmtTime(a.escalated.t) }) : "";
  parts.tta.textContent = fmtCountdown(ttaNow(a, opts.dataNowS));
  parts.what.textContent = a.kind === "sensor" ? sensorText(a) : t("ui.alert.what", { object: term("class", a.class || "unknown"), track: a.track, zone: zoneLabel(a.zone, opts.zoneNames) });
  // The English reason keeps the particulars (a link's last error) a code cannot carry.
  parts.what.title = a.kind === "sensor" && a.cause && a.reason ? a.reason : "";
  parts.since.textContent = t("ui.alert.since", { id: a.id, time: fmtTime(a.t) });
  // The acknowledge button is made again only when what it offers, or its language, changes.
  const tailKey = `${language()} ${a.ack ? `ack ${a.ack.by} ${a.ack.t}` : opts.canAck ? "button" : "none"}`;
  if (tailKey !== item.tailKey) {
    const tail = a.ack
      ? el("div", { class: "ackline" }, t("ui.alert.acked", { by: a.ack.by, time: fmtTime(a.ack.t) }))
      : opts.canAck
        ? el("button", { class: "ack", type: "button", onclick: (ev) => { ev.stopPropagation(); item.opts.onAck(item.alert.id); } }, t("ui.alert.ack"))
        : el("div", { class: "quiet" }, t("ui.alert.not_acked"));
    if (item.tail) item.tail.replaceWith(tail);
    else li.append(tail);
    item.tail = tail;
    item.tailKey = tailKey;
  }
  return li;
}

function groupItem(zone, members, opts) {
  let g = groups.get(zone);
  if (!g) {
    const parts = {
      level: el("span", { class: "level" }),
      tta: el("span", { class: "tta", "data-tta-zone": zone }),
      what: el("div", { class: "what" }),
      acks: el("span", { class: "quiet" }),
      toggle: el("button", { class: "toggle", type: "button" }),
      list: el("ol", { class: "members" }),
    };
    const li = el(
      "li",
      { "data-zone": zone },
      el("div", { class: "head" }, parts.level, parts.tta),
      parts.what,
      el("div", { class: "groupline" }, parts.acks, parts.toggle),
      parts.list,
    );
    g = { li, parts };
    parts.toggle.addEventListener("click", (ev) => {
      ev.stopPropagation();
      if (expanded.has(zone)) expanded.delete(zone);
      else expanded.add(zone);
      redraw();
    });
    // Clicking the group shows its first arrival on the map.
    li.addEventListener("click", () => {
      const first = g.members.find((a) => a.track);
      if (first) g.opts.onSelect(first.track);
    });
    groups.set(zone, g);
  }
  g.members = members;
  g.opts = opts;
  const { parts, li } = g;
  const open = expanded.has(zone);
  const unacked = members.filter((a) => !a.ack).length;
  li.className = `alert group ${members[0].level}${unacked ? "" : " acked"}`;
  parts.level.textContent = term("level", members[0].level);
  parts.tta.textContent = fmtCountdown(firstArrival(members, opts.dataNowS));
  parts.what.textContent = t("ui.alert.group", { count: members.length, zone: zoneLabel(zone, opts.zoneNames) });
  parts.acks.textContent = unacked ? t("ui.alert.group.unacked", { count: unacked }) : t("ui.alert.group.all_acked");
  parts.toggle.textContent = t(open ? "ui.alert.group.hide" : "ui.alert.group.show");
  parts.toggle.setAttribute("aria-expanded", open ? "true" : "false");
  parts.list.hidden = !open;
  syncChildren(parts.list, open ? members.map((a) => alertItem(a, opts)) : []);
  return li;
}

function draw() {
  const [alerts, o] = pending;
  document.getElementById("alert-count").textContent = String(alerts.length);
  document.getElementById("no-alerts").hidden = alerts.length > 0;
  const shown = groupAlerts(alerts, o.dataNowS);
  syncChildren(
    document.getElementById("alerts"),
    shown.map((x) => (x.group !== undefined ? groupItem(x.group, x.alerts, o) : alertItem(x, o))),
  );
  const open = new Set(alerts.map((a) => a.id));
  for (const id of [...items.keys()]) if (!open.has(id)) items.delete(id);
  const zones = new Set(shown.filter((x) => x.group !== undefined).map((x) => x.group));
  for (const z of [...groups.keys()]) if (!zones.has(z)) groups.delete(z);
}

function redraw() {
  cancelAnimationFrame(frame);
  frame = 0;
  if (pending) draw();
}

// The alert list, drawn at the next frame: a swarm's alerts arrive as hundreds of
// messages, and the list is drawn once for them all.
export function renderAlerts(alerts, opts) {
  pending = [alerts, opts];
  if (!frame) frame = requestAnimationFrame(redraw);
}

// Refresh only the countdowns (every second, without rebuilding the list).
export function tickCountdowns(alerts, dataNowS) {
  for (const a of alerts) {
    const item = items.get(a.id);
    if (item) item.parts.tta.textContent = fmtCountdown(ttaNow(a, dataNowS));
  }
  for (const g of groups.values()) g.parts.tta.textContent = fmtCountdown(firstArrival(g.members, dataNowS));
}

export function renderTrack(track, history) {
  const panel = document.getElementById("track-panel");
  if (!track) {
    panel.hidden = true;
    return;
  }
  panel.hidden = false;
  document.getElementById("track-title").textContent = track.id;
  const [ve, vn, vu] = track.vel_enu_mps;
  const hdg = ((Math.atan2(ve, vn) * 180) / Math.PI + 360) % 360;
  const facts = [
    ["class", term("class", track.class)],
    ["status", term("track_status", track.status)],
    ["position", `${track.lat.toFixed(5)}, ${track.lon.toFixed(5)}`],
    ["altitude", `${Math.round(track.alt_m)} m`],
    ["speed", `${Math.hypot(ve, vn).toFixed(1)} m/s`],
    ["heading", `${Math.round(hdg)}°`],
    ["climb", `${vu.toFixed(1)} m/s`],
    ["time", fmtTime(track.t)],
  ];
  if (track.identity) facts.push(["identity", Object.entries(track.identity).map(([k, v]) => `${k} ${v}`).join(", ")]);
  if (track.pos_std_m != null) facts.push(["accuracy", `±${track.pos_std_m.toFixed(0)} m`]);
  if (Array.isArray(track.sites)) facts.push(["sites", track.sites.join(", ") || "—"]);
  if (Array.isArray(track.members)) facts.push(["members", track.members.join(", ") || "—"]);
  document.getElementById("track-facts").replaceChildren(
    ...facts.flatMap(([k, v]) => [el("dt", {}, t(`ui.fact.${k}`)), el("dd", {}, v)]),
  );
  const probs = Object.entries(track.class_p || {}).sort((a, b) => b[1] - a[1]);
  document.getElementById("track-classes").replaceChildren(
    ...probs.map(([cls, p]) => {
      const fill = el("div", { class: "fill" });
      fill.style.width = `${(100 * p).toFixed(0)}%`;
      fill.style.background = classColour(cls);
      return el("div", { class: "bar" }, el("span", {}, term("class", cls)), el("div", { class: "track" }, fill), el("span", {}, `${(100 * p).toFixed(0)}%`));
    }),
  );
  drawTimeline(document.getElementById("track-timeline"), history || []);
}

// Altitude (white) and ground speed (class colour) against time, each scaled to its own range.
function drawTimeline(canvas, lines) {
  const ctx = canvas.getContext("2d");
  const w = canvas.width;
  const h = canvas.height;
  ctx.clearRect(0, 0, w, h);
  ctx.fillStyle = "#0f1620";
  ctx.fillRect(0, 0, w, h);
  if (lines.length < 2) {
    ctx.fillStyle = "#8b98a8";
    ctx.font = `13px ${CANVAS_FONT}`;
    ctx.fillText(t("ui.track.no_history"), 10, h / 2);
    return;
  }
  const t0 = lines[0].t;
  const t1 = lines[lines.length - 1].t;
  // [values, colour, smallest span shown (m, m/s)] so that a steady value draws flat.
  const series = [
    [lines.map((l) => l.alt_m), "#e6edf3", 20],
    [lines.map((l) => Math.hypot(l.vel_enu_mps[0], l.vel_enu_mps[1])), classColour(lines[lines.length - 1].class), 5],
  ];
  for (const [ys, colour, minSpan] of series) {
    const mid = (Math.min(...ys) + Math.max(...ys)) / 2;
    const half = Math.max(minSpan, Math.max(...ys) - Math.min(...ys)) / 2;
    const lo = mid - half;
    const hi = mid + half;
    ctx.strokeStyle = colour;
    ctx.lineWidth = 2;
    ctx.beginPath();
    lines.forEach((l, i) => {
      const x = 4 + ((w - 8) * (l.t - t0)) / Math.max(1e-9, t1 - t0);
      const y = h - 14 - ((h - 24) * (ys[i] - lo)) / Math.max(1e-9, hi - lo);
      if (i === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    });
    ctx.stroke();
  }
  ctx.fillStyle = "#8b98a8";
  ctx.font = `11px ${CANVAS_FONT}`;
  ctx.fillText(fmtTime(t0), 4, h - 2);
  ctx.fillText(fmtTime(t1), w - 62, h - 2);
}
