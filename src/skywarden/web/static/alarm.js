// The alarm an operator cannot miss: tones per level (Web Audio, no files, works offline),
// a flashing tab title, and a browser notification when the page is in the background.
//
// An open alert that is not acknowledged "rings": critical and warning repeat until
// acknowledged, info chimes once. An escalated alert rings again, as critical. Muting
// (per operator, kept in this browser) silences the tones only: the title still flashes
// and notifications still come.

import { t, term } from "./i18n.js";

// [frequency Hz, duration s] steps of each pattern, and how often it repeats (ms; 0: once).
const PATTERNS = {
  critical: { steps: [[988, 0.18], [740, 0.18], [988, 0.18], [740, 0.18]], everyMs: 2000 },
  warning: { steps: [[660, 0.35]], everyMs: 4000 },
  info: { steps: [[523, 0.2]], everyMs: 0 },
};
const RANK = { info: 0, warning: 1, critical: 2 };
const FLASH_MS = 1000;

export class Alarm {
  constructor(onMuteChange) {
    this.ctx = null;
    this.operator = null;
    this.muted = false;
    this.ringing = null; // level of the loudest ringing alert, or null
    this.timer = null;
    this.flashTimer = null;
    this.baseTitle = document.title;
    this.heard = new Map(); // alert id -> "level" or "level/escalated" already announced
    this.onMuteChange = onMuteChange;
    // Browsers start audio only after a user gesture: any click or key arms it.
    const arm = () => this.audio();
    window.addEventListener("pointerdown", arm);
    window.addEventListener("keydown", arm);
  }

  setOperator(name) {
    this.operator = name;
    this.muted = localStorage.getItem(this.muteKey()) === "1";
    this.onMuteChange(this.muted);
  }

  muteKey() {
    return `skywarden.alarm.muted.${this.operator || ""}`;
  }

  toggleMute() {
    this.muted = !this.muted;
    localStorage.setItem(this.muteKey(), this.muted ? "1" : "0");
    this.onMuteChange(this.muted);
    if (this.muted) this.stopTones();
    else if (this.ringing) this.startTones(this.ringing);
    this.askNotifications();
  }

  askNotifications() {
    if ("Notification" in window && Notification.permission === "default") {
      Notification.requestPermission().catch(() => {});
    }
  }

  audio() {
    if (!this.ctx) {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return null;
      this.ctx = new Ctx();
    }
    if (this.ctx.state === "suspended") this.ctx.resume().catch(() => {});
    return this.ctx;
  }

  playPattern(level) {
    if (this.muted) return;
    const ctx = this.audio();
    if (!ctx) return;
    let t = ctx.currentTime + 0.02;
    for (const [freq, dur] of PATTERNS[level].steps) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = level === "critical" ? "square" : "sine";
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.25, t);
      gain.gain.exponentialRampToValueAtTime(0.001, t + dur);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t);
      osc.stop(t + dur);
      t += dur + 0.05;
    }
  }

  startTones(level) {
    this.stopTones();
    this.playPattern(level);
    const every = PATTERNS[level].everyMs;
    if (every) this.timer = setInterval(() => this.playPattern(level), every);
  }

  stopTones() {
    clearInterval(this.timer);
    this.timer = null;
  }

  // The page's own title, in the operator's language (the flash alternates with it).
  setBaseTitle(title) {
    this.baseTitle = title;
    if (!this.flashTimer) document.title = title;
  }

  flash(level) {
    clearInterval(this.flashTimer);
    let on = false;
    // Worded at each blink, so that a language switch shows at once.
    const text = () => t("ui.alarm.title", { level: term("level", level).toUpperCase(), title: this.baseTitle });
    this.flashTimer = setInterval(() => {
      on = !on;
      document.title = on ? text() : this.baseTitle;
    }, FLASH_MS);
    document.title = text();
  }

  unflash() {
    clearInterval(this.flashTimer);
    this.flashTimer = null;
    document.title = this.baseTitle;
  }

  notify(alert, level) {
    // Visibility first: it is cheap, and asking for the permission is not (a swarm asks hundreds of times).
    if (document.visibilityState !== "hidden") return;
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    const what = alert.escalated ? t("ui.notify.escalated") : t("ui.notify.level", { level: term("level", level) });
    const arrival = alert.tta_s != null ? t("ui.notify.arrival", { seconds: Math.round(alert.tta_s) }) : "";
    try {
      // Plain text only: the notification shows strings from data as text.
      new Notification(t("ui.notify.title", { what }), {
        body: t("ui.notify.body", {
          object: term("class", alert.class || "unknown"),
          track: alert.track || "",
          zone: alert.zone || "",
          arrival,
        }),
        tag: `skywarden-${alert.id}`,
        requireInteraction: level === "critical",
      });
    } catch (e) {
      console.warn("notification:", e);
    }
  }

  // Called with the open alerts whenever they change.
  update(alerts) {
    let loudest = null;
    const open = new Set();
    for (const a of alerts) {
      open.add(a.id);
      if (a.ack) continue;
      const level = a.escalated ? "critical" : a.level;
      const key = `${a.level}${a.escalated ? "/escalated" : ""}`;
      const fresh = this.heard.get(a.id) !== key;
      if (fresh) {
        this.heard.set(a.id, key);
        this.notify(a, level);
        if (PATTERNS[level].everyMs === 0) this.playPattern(level);
      }
      if (PATTERNS[level].everyMs && (loudest === null || RANK[level] > RANK[loudest])) loudest = level;
    }
    for (const id of [...this.heard.keys()]) if (!open.has(id)) this.heard.delete(id);
    if (loudest !== this.ringing) {
      this.ringing = loudest;
      if (loudest) {
        this.startTones(loudest);
        this.flash(loudest);
      } else {
        this.stopTones();
        this.unflash();
      }
    }
    document.body.dataset.alarm = this.ringing || "off";
  }
}
