// Side panels: the alert list (most urgent first, live countdown) and track details.

import { t, term } from "./i18n.js";
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

export function renderAlerts(alerts, { dataNowS, canAck, onAck, onSelect, zoneNames }) {
  const list = document.getElementById("alerts");
  document.getElementById("alert-count").textContent = String(alerts.length);
  document.getElementById("no-alerts").hidden = alerts.length > 0;
  list.replaceChildren(
    ...sortAlerts(alerts, dataNowS).map((a) => {
      const sensor = a.kind === "sensor";
      const what = sensor
        ? a.reason
          ? t("ui.alert.sensor_reason", { sensor: a.sensor, reason: a.reason })
          : t("ui.alert.sensor", { sensor: a.sensor })
        : t("ui.alert.what", { object: term("class", a.class || "unknown"), track: a.track, zone: zoneLabel(a.zone, zoneNames) });
      const tail = a.ack
        ? el("div", { class: "ackline" }, t("ui.alert.acked", { by: a.ack.by, time: fmtTime(a.ack.t) }))
        : canAck
          ? el("button", { class: "ack", type: "button", onclick: (ev) => { ev.stopPropagation(); onAck(a.id); } }, t("ui.alert.ack"))
          : el("div", { class: "quiet" }, t("ui.alert.not_acked"));
      return el(
        "li",
        {
          class: `alert ${a.level}${a.ack ? " acked" : ""}`,
          "data-alert": a.id,
          onclick: () => a.track && onSelect(a.track),
        },
        el(
          "div",
          { class: "head" },
          el("span", { class: "level" }, t("ui.alert.heading", { level: term("level", a.level), state: term("state", a.state) })),
          a.escalated
            ? el(
                "span",
                { class: "escalated", title: t("ui.alert.escalated_to", { to: a.escalated.to, time: fmtTime(a.escalated.t) }) },
                t("ui.alert.escalated"),
              )
            : "",
          el("span", { class: "tta", "data-tta": a.id }, fmtCountdown(ttaNow(a, dataNowS))),
        ),
        el("div", { class: "what" }, what),
        el("div", { class: "quiet" }, t("ui.alert.since", { id: a.id, time: fmtTime(a.t) })),
        tail,
      );
    }),
  );
}

// Refresh only the countdowns (every second, without rebuilding the list).
export function tickCountdowns(alerts, dataNowS) {
  for (const a of alerts) {
    const e = document.querySelector(`[data-tta="${CSS.escape(a.id)}"]`);
    if (e) e.textContent = fmtCountdown(ttaNow(a, dataNowS));
  }
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
