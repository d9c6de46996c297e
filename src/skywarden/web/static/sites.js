// A region's sites (the page served by `skywarden region` only): each site's colour,
// a fixed palette indexed by the site's position in /api/sites, and the site-health
// panel. Site ids and names are data: they go in as text, never as markup.

import { t, term } from "./i18n.js";

// Apart from the class colours (tracklayer.js) and from each other on the dark map.
// The first four also stand apart from the alert levels' amber, red and blue.
export const SITE_COLOURS = ["#c77dff", "#f15bb5", "#f8f9fa", "#a47148", "#ff9f1c", "#9ef01a", "#fee440", "#00f5d4"];
// Tracks no site reports now (a regional track coasting between sites).
export const NO_SITE_COLOUR = "#8b98a8";

// rows: /api/sites -> Map site id -> colour, in the rows' order.
export function siteColours(rows) {
  return new Map(rows.map((r, i) => [r.site, SITE_COLOURS[i % SITE_COLOURS.length]]));
}

function el(tag, className, ...children) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  e.append(...children);
  return e;
}

// The panel: one line per site, its colour, name, health, heartbeat age and consumer lag.
export function renderSites(rows, colours) {
  document.getElementById("site-count").textContent = String(rows.length);
  const items = rows.map((r) => {
    const swatch = el("span", "swatch");
    swatch.style.background = colours.get(r.site) || NO_SITE_COLOUR;
    const name = el("span", "name", r.name ? `${r.site} · ${r.name}` : String(r.site));
    const known = ["ok", "stale", "unknown"].includes(r.health) ? r.health : "unknown";
    const health = el("span", `health ${known}`, term("site_health", r.health));
    const detail =
      r.heartbeat_age_s == null
        ? t("ui.sites.no_heartbeat")
        : t("ui.sites.detail", {
            age: Number(r.heartbeat_age_s).toFixed(1),
            lag: r.consumer_lag == null ? "—" : String(r.consumer_lag),
          });
    const li = el("li", "site", swatch, name, health, el("span", "detail quiet", detail));
    li.dataset.site = String(r.site);
    return li;
  });
  document.getElementById("sites").replaceChildren(...items);
}
