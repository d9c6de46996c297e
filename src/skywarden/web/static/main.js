// The page: wires the live connection, the map, the panels, replay and export.

import { api, apiJson, AuthError, config, connectLive, signIn, signOut } from "./api.js";
import { Alarm } from "./alarm.js";
import { initialLanguage, onLanguageChange, setLanguage, setOperator, t, term, wireSelectors } from "./i18n.js";
import { AirMap } from "./map.js";
import { fmtTime, renderAlerts, renderTrack, tickCountdowns } from "./panels.js";
import { renderSites } from "./sites.js";

const TRAIL_LEN = 30;
// How often a region's page asks for its sites' health.
const SITES_POLL_MS = 2000;

const state = {
  me: null, // {name, role} once signed in
  role: null,
  conn: "down", // "up" | "down" | "refused"
  zoneNames: new Map(), // zone id -> name
  tracks: new Map(), // id -> track line
  trails: new Map(), // id -> [[lon, lat, alt, t], ...]
  alerts: new Map(), // id -> alert (open ones)
  lastT: null, // data time of the latest scan, UTC seconds
  lastWallMs: 0, // performance.now() when it arrived
  sensors: new Map(), // id -> sensor with status
  sites: [], // a region's /api/sites rows (none at a site)
  selected: null,
  selectedHistory: [],
  playTimer: null,
  replay: null, // {frames: [[t, tracks]], alerts} while replaying
};

let airMap = null;
let stopLive = null;
const alarm = new Alarm((muted) => {
  const b = document.getElementById("mute");
  b.textContent = t(muted ? "ui.unmute" : "ui.mute");
  b.setAttribute("aria-pressed", muted ? "true" : "false");
  b.classList.toggle("active", muted);
});

// Problems go to a line in the bar (as text), not to blocking dialogs.
function report(message) {
  document.getElementById("status").textContent = message;
}

// Data time now: the latest scan time advanced by the wall clock since it came.
function dataNow() {
  if (state.lastT == null) return Date.now() / 1000;
  return state.lastT + (performance.now() - state.lastWallMs) / 1000;
}

function showLogin(message) {
  document.getElementById("login").hidden = false;
  document.getElementById("login-error").textContent = message || "";
}

function drawAlerts() {
  const alerts = [...state.alerts.values()];
  renderAlerts(alerts, {
    dataNowS: dataNow(),
    canAck: state.role === "operator",
    onAck: acknowledge,
    onSelect: selectTrack,
    zoneNames: state.zoneNames,
  });
  if (!state.replay) airMap.setPredictedPaths(alerts);
  alarm.update(alerts);
}

function drawTracks() {
  if (state.replay) return;
  airMap.setTracks([...state.tracks.values()], state.trails);
  airMap.setPredictedPaths([...state.alerts.values()]);
  if (state.selected && state.tracks.has(state.selected)) {
    renderTrack(state.tracks.get(state.selected), state.selectedHistory);
  }
}

function takeTracks(tracks, t) {
  const ids = new Set();
  for (const tr of tracks) {
    ids.add(tr.id);
    state.tracks.set(tr.id, tr);
    const trail = state.trails.get(tr.id) || [];
    const last = trail[trail.length - 1];
    if (!last || last[3] !== tr.t) trail.push([tr.lon, tr.lat, tr.alt_m, tr.t]);
    state.trails.set(tr.id, trail.slice(-TRAIL_LEN));
  }
  for (const id of [...state.tracks.keys()]) {
    if (!ids.has(id)) {
      state.tracks.delete(id);
      state.trails.delete(id);
    }
  }
  if (t != null) {
    state.lastT = t;
    state.lastWallMs = performance.now();
  }
  document.getElementById("clock").textContent = fmtTime(state.lastT);
}

// Zones (a GeoJSON FeatureCollection): drawn, and their names kept for the alert list.
function takeZones(fc) {
  state.zoneNames = new Map(
    (fc.features || []).map((f) => [f.id, (f.properties && f.properties.name) || f.id]),
  );
  airMap.setZones(fc);
}

function onMessage(msg) {
  switch (msg.type) {
    case "snapshot":
      state.trails = new Map(msg.tracks.map((t) => [t.id, t.trail || []]));
      state.tracks = new Map();
      takeTracks(msg.tracks, msg.t);
      state.alerts = new Map(msg.alerts.map((a) => [a.id, a]));
      takeZones(msg.zones);
      airMap.setSensors(msg.sensors);
      state.sensors = new Map(msg.sensors.map((s) => [s.id, s]));
      drawTracks();
      drawAlerts();
      break;
    case "tracks":
      takeTracks(msg.tracks, msg.t);
      if (!msg.more) drawTracks();
      break;
    case "delta": {
      // Changed tracks and removed ids only, maybe in parts (docs/format.md): merged
      // into the picture, drawn once the last part is in.
      const merged = new Map(state.tracks);
      for (const id of msg.removed) merged.delete(id);
      for (const tr of msg.tracks) merged.set(tr.id, tr);
      takeTracks([...merged.values()], msg.t);
      if (!msg.more) drawTracks();
      break;
    }
    case "alert":
      if (msg.alert.state === "cleared") state.alerts.delete(msg.alert.id);
      else state.alerts.set(msg.alert.id, msg.alert);
      drawAlerts();
      break;
    case "ack": {
      const a = state.alerts.get(msg.alert_id);
      if (a) {
        a.ack = msg.ack;
        drawAlerts();
      }
      break;
    }
    case "escalation": {
      const a = state.alerts.get(msg.alert_id);
      if (a) {
        a.escalated = msg.escalated;
        drawAlerts();
      }
      break;
    }
    case "sensor":
      state.sensors.set(msg.sensor.id, msg.sensor);
      airMap.setSensors([...state.sensors.values()]);
      break;
    case "zones":
      takeZones(msg.zones);
      drawAlerts();
      break;
    default:
      break;
  }
}

async function acknowledge(alertId) {
  try {
    const ack = await apiJson(`/api/alerts/${encodeURIComponent(alertId)}/ack`, { method: "POST" });
    const a = state.alerts.get(alertId);
    if (a) a.ack = { by: ack.by, t: ack.t };
    drawAlerts();
  } catch (e) {
    report(t("ui.error.ack", { error: e.message }));
  }
}

async function selectTrack(id) {
  state.selected = id;
  state.selectedHistory = [];
  airMap.select(id);
  const track = state.tracks.get(id);
  if (!track) return;
  renderTrack(track, []);
  try {
    const h = await apiJson(`/api/tracks/${encodeURIComponent(id)}?t0=${dataNow() - 600}`);
    if (state.selected === id) {
      state.selectedHistory = h.lines;
      renderTrack(state.tracks.get(id) || track, h.lines);
    }
  } catch (e) {
    console.warn("track history:", e);
  }
  drawTracks();
}

// --- replay and export over the chosen range, ending at the last stored scan ---

async function chosenRange() {
  const span = await apiJson("/api/span");
  const t1 = span.t1 ?? dataNow();
  const t0 = Math.max(span.t0 ?? t1, t1 - Number(document.getElementById("range").value));
  return [t0, t1];
}

function showReplayFrame(i) {
  const r = state.replay;
  if (!r || !r.frames.length) return;
  const [frameT, tracks] = r.frames[i];
  const trails = new Map();
  for (const [, frame] of r.frames.slice(Math.max(0, i - TRAIL_LEN), i + 1)) {
    for (const tr of frame) {
      if (!trails.has(tr.id)) trails.set(tr.id, []);
      trails.get(tr.id).push([tr.lon, tr.lat, tr.alt_m, tr.t]);
    }
  }
  airMap.setTracks(tracks, trails);
  const open = new Map();
  for (const a of r.alerts) {
    if (a.t > frameT) break;
    if (a.state === "cleared") open.delete(a.id);
    else open.set(a.id, a);
  }
  airMap.setPredictedPaths([...open.values()]);
  document.getElementById("replay-time").textContent = t("ui.replay.frame", {
    time: fmtTime(frameT),
    tracks: t("ui.replay.tracks", { count: tracks.length }),
    alerts: t("ui.replay.alerts", { count: open.size }),
  });
}

async function startReplay() {
  const [t0, t1] = await chosenRange();
  const data = await apiJson(`/api/replay?t0=${t0}&t1=${t1}`);
  const byT = new Map();
  for (const tr of data.tracks) {
    if (tr.status === "deleted") continue;
    if (!byT.has(tr.t)) byT.set(tr.t, []);
    byT.get(tr.t).push(tr);
  }
  state.replay = { frames: [...byT.entries()].sort((a, b) => a[0] - b[0]), alerts: data.alerts };
  const slider = document.getElementById("replay-slider");
  slider.max = String(Math.max(0, state.replay.frames.length - 1));
  slider.value = slider.max;
  document.getElementById("replay").hidden = false;
  document.getElementById("replay-toggle").classList.add("active");
  state.replay.truncated = data.truncated;
  document.getElementById("replay-note").textContent = data.truncated ? t("ui.replay.truncated") : "";
  showReplayFrame(Number(slider.value));
}

function stopReplay() {
  state.replay = null;
  clearInterval(state.playTimer);
  document.getElementById("replay").hidden = true;
  document.getElementById("replay-toggle").classList.remove("active");
  drawTracks();
}

async function exportRange(format) {
  const [t0, t1] = await chosenRange();
  const res = await api(`/api/export?t0=${t0}&t1=${t1}&format=${format}`);
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = `skywarden_${Math.floor(t0)}_${Math.floor(t1)}.${format}`;
  a.click();
  URL.revokeObjectURL(url);
}

function wireControls() {
  document.getElementById("replay-toggle").addEventListener("click", () => {
    if (state.replay) stopReplay();
    else startReplay().catch((e) => report(t("ui.error.replay", { error: e.message })));
  });
  document.getElementById("replay-slider").addEventListener("input", (ev) => showReplayFrame(Number(ev.target.value)));
  document.getElementById("replay-play").addEventListener("click", () => {
    const slider = document.getElementById("replay-slider");
    clearInterval(state.playTimer);
    if (Number(slider.value) >= Number(slider.max)) slider.value = "0";
    state.playTimer = setInterval(() => {
      if (!state.replay || Number(slider.value) >= Number(slider.max)) return clearInterval(state.playTimer);
      slider.value = String(Number(slider.value) + 1);
      showReplayFrame(Number(slider.value));
    }, 250);
  });
  for (const b of document.querySelectorAll(".export button")) {
    b.addEventListener("click", () =>
      exportRange(b.dataset.format).catch((e) => report(t("ui.error.export", { error: e.message }))),
    );
  }
  document.getElementById("track-close").addEventListener("click", () => {
    state.selected = null;
    airMap.select(null);
    renderTrack(null);
    drawTracks();
  });
  document.getElementById("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const input = document.getElementById("login-token");
    const token = input.value.trim();
    input.value = "";
    try {
      await signIn(token);
    } catch (e) {
      showLogin(e instanceof AuthError ? t("ui.login.refused") : e.message);
      return;
    }
    document.getElementById("login").hidden = true;
    alarm.askNotifications();
    start();
  });
  document.getElementById("mute").addEventListener("click", () => alarm.toggleMute());
  document.getElementById("signout").addEventListener("click", async () => {
    if (stopLive) stopLive();
    stopLive = null;
    await signOut().catch((e) => report(t("ui.error.signout", { error: e.message })));
    state.me = null;
    await setOperator(null);
    document.getElementById("who").textContent = "";
    showLogin(t("ui.login.signed_out"));
  });
  wireSelectors((e) => report(e.message));
}

async function start() {
  try {
    const me = await apiJson("/api/me");
    state.me = me;
    state.role = me.role;
    await setOperator(me.name);
    drawWho();
    alarm.setOperator(me.name);
  } catch (e) {
    if (e instanceof AuthError) return showLogin();
    throw e;
  }
  pollSites();
  stopLive = connectLive(onMessage, (s) => {
    state.conn = s;
    drawConn();
    if (s === "refused") showLogin(t("ui.login.live_refused"));
  });
}

// A region's sites: colours and filter on the map, and the health panel.
async function pollSites() {
  if (!config.regional || !state.me) return;
  try {
    state.sites = await apiJson("/api/sites");
  } catch (e) {
    if (!(e instanceof AuthError)) report(t("ui.error.sites", { error: e.message }));
    return;
  }
  airMap.setSites(state.sites);
  renderSites(state.sites, airMap.siteColours);
}

function drawWho() {
  const me = state.me;
  document.getElementById("who").textContent = me ? t("ui.who", { name: me.name, role: term("role", me.role) }) : "";
}

function drawConn() {
  const s = state.conn;
  const c = document.getElementById("conn");
  c.textContent = t(s === "up" ? "ui.conn.live" : s === "refused" ? "ui.conn.refused" : "ui.conn.offline");
  c.className = `conn ${s === "up" ? "up" : "down"}`;
}

// The operator switched language: word again everything on screen that is not fixed markup.
function relabel() {
  alarm.setBaseTitle(t("ui.title"));
  alarm.onMuteChange(alarm.muted);
  drawWho();
  drawConn();
  airMap.retitle();
  airMap.setSensors([...state.sensors.values()]);
  drawAlerts();
  drawTracks();
  if (config.regional) renderSites(state.sites, airMap.siteColours);
  if (state.selected && state.tracks.has(state.selected)) renderTrack(state.tracks.get(state.selected), state.selectedHistory);
  if (state.replay) {
    showReplayFrame(Number(document.getElementById("replay-slider").value));
    document.getElementById("replay-note").textContent = state.replay.truncated ? t("ui.replay.truncated") : "";
  }
}

airMap = new AirMap("map", selectTrack);
onLanguageChange(relabel);
wireControls();
setInterval(() => tickCountdowns([...state.alerts.values()], dataNow()), 1000);
if (config.regional) {
  // Only a region's page shows its sites: a site's map looks as it always did.
  document.getElementById("sites-panel").hidden = false;
  setInterval(pollSites, SITES_POLL_MS);
}
// Words first, so that nothing is drawn in a language the operator did not choose.
setLanguage(initialLanguage())
  .catch((e) => report(e.message))
  .finally(() => start());
