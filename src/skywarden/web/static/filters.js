// The map's legend and filters: a box per class and per alert level, each with how many
// tracks it holds now. Unticking one hides those tracks on the map; the alert list
// always shows every open alert.
/* global L */

import { t, term } from "./i18n.js";
import { CLASS_COLOURS, CLASSES, LEVEL_COLOURS, LEVELS } from "./tracklayer.js";

function el(tag, className, ...children) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  e.append(...children);
  return e;
}

export const FilterControl = L.Control.extend({
  options: { position: "topright" },

  // onChange({class: shown}, {level: shown}) after every tick or untick.
  initialize(onChange, options) {
    L.setOptions(this, options);
    this.onChange = onChange;
    this.rows = new Map(); // "class:drone", "level:none" -> {box, name, count}
    this.counts = null;
  },

  onAdd() {
    const root = el("details", "leaflet-control filters");
    root.open = true;
    this.summary = el("summary");
    root.append(this.summary);
    const group = (kind, values, colours) => {
      const legend = el("legend");
      const set = el("fieldset", kind, legend);
      set.dataset.kind = kind;
      for (const v of values) {
        const box = el("input");
        box.type = "checkbox";
        box.checked = true;
        box.addEventListener("change", () => this.changed());
        const swatch = el("span", "swatch");
        swatch.style.background = Object.hasOwn(colours, v) ? colours[v] : "transparent";
        const name = el("span", "name");
        const count = el("span", "n", "0");
        const row = el("label", "", box, swatch, name, count);
        row.dataset[kind === "classes" ? "class" : "level"] = v;
        set.append(row);
        this.rows.set(`${kind}:${v}`, { box, name, count });
      }
      return { set, legend };
    };
    this.classes = group("classes", CLASSES, CLASS_COLOURS);
    this.levels = group("levels", [...LEVELS].reverse(), LEVEL_COLOURS);
    root.append(this.classes.set, this.levels.set);
    L.DomEvent.disableClickPropagation(root);
    L.DomEvent.disableScrollPropagation(root);
    this.root = root;
    this.relabel();
    return root;
  },

  changed() {
    const pick = (kind, values) =>
      Object.fromEntries(values.map((v) => [v, this.rows.get(`${kind}:${v}`).box.checked]));
    this.onChange(pick("classes", CLASSES), pick("levels", LEVELS));
  },

  // counts: {classes: {drone: n, ...}, levels: {none: n, ...}, shown, total}
  setCounts(counts) {
    this.counts = counts;
    if (!this.root) return;
    for (const [kind, by] of [["classes", counts.classes], ["levels", counts.levels]]) {
      for (const [v, n] of Object.entries(by)) {
        const row = this.rows.get(`${kind}:${v}`);
        if (row) row.count.textContent = String(n);
      }
    }
    this.summary.textContent = t("ui.filter.shown", { shown: counts.shown, total: counts.total });
  },

  // Word everything again in the page's language.
  relabel() {
    if (!this.root) return;
    this.classes.legend.textContent = t("ui.filter.classes");
    this.levels.legend.textContent = t("ui.filter.levels");
    for (const c of CLASSES) this.rows.get(`classes:${c}`).name.textContent = term("class", c);
    for (const l of LEVELS) {
      this.rows.get(`levels:${l}`).name.textContent = l === "none" ? t("ui.filter.no_alert") : term("level", l);
    }
    this.setCounts(this.counts || { classes: {}, levels: {}, shown: 0, total: 0 });
  },
});
