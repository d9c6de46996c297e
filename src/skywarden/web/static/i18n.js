// The page's words: one catalogue per language, served by skywarden at
// /i18n/<lang>.json (the catalogue CAP messages are worded from too, with the
// site's own wording laid over it). Every result is plain text: callers set it
// with textContent, never as markup, and a parameter is substituted once, never
// read as a template itself.
//
// The language is the operator's: picked in the page, kept in this browser per
// operator (and for the sign-in form, the last one picked here); until then the
// site's default, else the browser's language, else English.

import { config } from "./api.js";

const LAST_KEY = "skywarden.language";
const PLACEHOLDER = /\{([a-z][a-z0-9_]*)\}/g;

let lang = "en";
let messages = {};
let plural = new Intl.PluralRules("en");
let operator = null;
let loads = 0; // the newest load wins when the operator switches quickly
const listeners = [];

function known(code) {
  return typeof code === "string" && Object.hasOwn(config.languages, code);
}

function primary(tag) {
  return String(tag || "").split("-")[0].toLowerCase();
}

function operatorKey() {
  return `${LAST_KEY}.${operator || ""}`;
}

export function language() {
  return lang;
}

// Message `key` with `params` substituted; a counted message picks its plural form by
// `params.count`. An unknown key shows as itself (the server sends complete catalogues).
export function t(key, params = {}) {
  let m = Object.hasOwn(messages, key) ? messages[key] : key;
  if (m !== null && typeof m === "object") {
    const form = Number.isInteger(params.count) ? plural.select(params.count) : "other";
    m = Object.hasOwn(m, form) ? m[form] : m.other;
  }
  return String(m).replace(PLACEHOLDER, (all, name) => (Object.hasOwn(params, name) ? String(params[name]) : all));
}

// The catalogue's word for a value from data (a class, level, status), or the value
// itself as text when the catalogue has none.
export function term(group, value) {
  const key = `${group}.${value}`;
  return Object.hasOwn(messages, key) ? t(key) : String(value ?? "");
}

// Called with the new language after every switch (redraw what is on screen).
export function onLanguageChange(listener) {
  listeners.push(listener);
}

// Word the page's fixed elements: data-i18n sets the text, data-i18n-<attr> an attribute.
export function applyStatic(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const attr of ["title", "aria-label", "placeholder"]) {
    for (const el of root.querySelectorAll(`[data-i18n-${attr}]`)) {
      el.setAttribute(attr, t(el.getAttribute(`data-i18n-${attr}`)));
    }
  }
}

export function initialLanguage() {
  const browser = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language];
  for (const c of [localStorage.getItem(LAST_KEY), config.language, ...browser].map(primary)) {
    if (known(c)) return c;
  }
  return "en";
}

// Switch to `code` (a known language, else English); `remember` keeps it for this
// operator in this browser.
export async function setLanguage(code, remember = false) {
  if (!known(code)) code = "en";
  const mine = ++loads;
  const res = await fetch(`/i18n/${encodeURIComponent(code)}.json`, { credentials: "same-origin" });
  if (!res.ok) throw new Error(`${res.status} ${res.statusText}`);
  const loaded = await res.json();
  if (mine !== loads) return;
  messages = loaded;
  lang = code;
  plural = new Intl.PluralRules(code);
  // The lang attribute also lets the browser pick a Korean face for Hangul.
  document.documentElement.lang = code;
  if (remember) {
    localStorage.setItem(LAST_KEY, code);
    if (operator) localStorage.setItem(operatorKey(), code);
  }
  for (const select of document.querySelectorAll("select.lang-select")) select.value = code;
  applyStatic();
  for (const f of listeners) f(code);
}

// The operator signed in (or out: null): take their own language if they picked one
// in this browser.
export async function setOperator(name) {
  operator = name;
  if (!operator) return;
  const own = primary(localStorage.getItem(operatorKey()));
  if (known(own) && own !== lang) await setLanguage(own);
}

// Fill the language selectors (select.lang-select: the bar's, the sign-in form's) with
// every language, each named in itself, and switch when one changes.
export function wireSelectors(onError) {
  for (const select of document.querySelectorAll("select.lang-select")) {
    select.replaceChildren(
      ...Object.entries(config.languages).map(([code, name]) => {
        const o = document.createElement("option");
        o.value = code;
        o.textContent = name;
        return o;
      }),
    );
    select.value = lang;
    select.addEventListener("change", () => setLanguage(select.value, true).catch(onError));
  }
}
