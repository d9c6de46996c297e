// The map's legend and filters: a box per class and per alert level (and, on a region's
// map, per site), each with how many tracks it holds now. Unticking one hides those
// tracks on the map (a site's: the tracks none of whose sites is ticked); the alert
// list always shows every open alert.
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

  // onChange({class: shown}, {level: shown}, {site: shown}) after every tick or untick.
  initialize(onChange, options) {
    L.setOptions(this, options);
    this.onChange = onChange;
    this.rows = new Map(); // "class:drone", "level:none", "site:A" -> {box, name, count}
    this.counts = null;
    this.siteIds = []; // a region's sites, in /api/sites order (none at a site)
    this.sites = null; // their fieldset, once there are any
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
    this.onChange(pick("classes", CLASSES), pick("levels", LEVELS), pick("sites", this.siteIds));
  },

  // A region's sites (ids in /api/sites order, colours: id -> colour): a box each, as
  // ticked as before; a site new to the list starts ticked.
  setSites(ids, colours) {
    if (!this.root) return;
    const same = ids.length === this.siteIds.length && ids.every((id, i) => id === this.siteIds[i]);
    if (!same) {
      for (const id of this.siteIds) if (!ids.includes(id)) this.rows.delete(`sites:${id}`);
      const legend = el("legend");
      const set = el("fieldset", "sites", legend);
      set.dataset.kind = "sites";
      for (const id of ids) {
        let row = this.rows.get(`sites:${id}`);
        if (!row) {
          const box = el("input");
          box.type = "checkbox";
          box.checked = true;
          box.addEventListener("change", () => this.changed());
          row = { box, swatch: el("span", "swatch"), name: el("span", "name", String(id)), count: el("span", "n", "0") };
          this.rows.set(`sites:${id}`, row);
        }
        const label = el("label", "", row.box, row.swatch, row.name, row.count);
        label.dataset.site = String(id);
        set.append(label);
      }
      if (this.sites) this.sites.set.replaceWith(set);
      else this.root.append(set);
      this.sites = { set, legend };
      this.siteIds = [...ids];
      this.relabel();
      this.changed();
    }
    for (const id of ids) this.rows.get(`sites:${id}`).swatch.style.background = colours.get(id) || "transparent";
  },

  // counts: {classes: {drone: n, ...}, levels: {none: n, ...}, shown, total}
  setCounts(counts) {
    this.counts = counts;
    if (!this.root) return;
    for (const [kind, by] of [["classes", counts.classes], ["levels", counts.levels], ["sites", counts.sites || {}]]) {
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
    if (this.sites) this.sites.legend.textContent = t("ui.filter.sites");
    for (const c of CLASSES) this.rows.get(`classes:${c}`).name.textContent = term("class", c);
    for (const l of LEVELS) {
      this.rows.get(`levels:${l}`).name.textContent = l === "none" ? t("ui.filter.no_alert") : term("level", l);
    }
    this.setCounts(this.counts || { classes: {}, levels: {}, shown: 0, total: 0 });
  },
});
