// Copy the browser libraries and the Natural Earth basemap from node_modules
// into the Python package's static folder. The copies are committed, so the
// service needs no npm (and no internet) at run time. Run: npm ci && npm run vendor
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const nm = join(here, "node_modules");
const out = join(here, "..", "..", "src", "skywarden", "web", "static", "vendor");

// [source under node_modules (or this folder), destination under vendor/]
const files = [
  ["leaflet/dist/leaflet.js", "leaflet/leaflet.js"],
  ["leaflet/dist/leaflet.css", "leaflet/leaflet.css"],
  ["leaflet/dist/images/layers.png", "leaflet/images/layers.png"],
  ["leaflet/dist/images/layers-2x.png", "leaflet/images/layers-2x.png"],
  ["leaflet/dist/images/marker-icon.png", "leaflet/images/marker-icon.png"],
  ["leaflet/dist/images/marker-icon-2x.png", "leaflet/images/marker-icon-2x.png"],
  ["leaflet/dist/images/marker-shadow.png", "leaflet/images/marker-shadow.png"],
  ["leaflet/LICENSE", "leaflet/LICENSE"],
  ["topojson-client/dist/topojson-client.min.js", "topojson-client/topojson-client.min.js"],
  ["topojson-client/LICENSE", "topojson-client/LICENSE"],
  ["pmtiles/dist/pmtiles.js", "pmtiles/pmtiles.js"],
  // The npm package ships no licence file; this is the upstream repository's.
  ["../pmtiles-LICENSE.txt", "pmtiles/LICENSE"],
  // pmtiles.js bundles fflate for decompression.
  ["fflate/LICENSE", "pmtiles/fflate-LICENSE"],
  ["world-atlas/countries-50m.json", "world-atlas/countries-50m.json"],
  ["world-atlas/countries-110m.json", "world-atlas/countries-110m.json"],
  ["world-atlas/LICENSE", "world-atlas/LICENSE"],
];

rmSync(out, { recursive: true, force: true });
for (const [src, dst] of files) {
  const to = join(out, dst);
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(join(nm, src), to);
  console.log(`vendor/${dst}`);
}

// A note beside the copies: what each is, its version and its licence.
const pkg = (name) => JSON.parse(readFileSync(join(nm, name, "package.json"), "utf8"));
const lines = [
  "# Vendored browser files",
  "",
  "Copied by `tools/vendor-js/copy-vendor.mjs` from npm packages; do not edit by hand.",
  "",
];
for (const name of ["leaflet", "topojson-client", "pmtiles", "world-atlas"]) {
  const p = pkg(name);
  lines.push(`- ${name} ${p.version}: ${p.license}, ${name}/LICENSE`);
}
const ff = pkg("fflate");
lines.push(`- fflate ${ff.version} (bundled inside pmtiles.js): ${ff.license}, pmtiles/fflate-LICENSE`);
lines.push(
  "",
  "The world-atlas TopoJSON files are derived from Natural Earth (naturalearthdata.com),",
  "which is in the public domain; the packaging is ISC-licensed as above.",
  "",
);
writeFileSync(join(out, "README.md"), lines.join("\n"));
