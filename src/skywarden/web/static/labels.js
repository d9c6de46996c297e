// Track labels, decluttered: which tracks get one, where, and the few DOM elements
// that show them. A label is plain text (textContent), whatever the data holds.

// Offset from a symbol's centre to the bottom of its label, and a label's height (px).
const ABOVE_PX = 14;
const LABEL_H = 20;
// Label padding plus border (style.css .label), added to the measured text width.
const LABEL_PAD_PX = 12;
const FONT = '13px system-ui, "DejaVu Sans", "NanumGothic", "Noto Sans CJK KR", sans-serif';

let measurer = null;

export function textWidth(text) {
  if (!measurer) {
    measurer = document.createElement("canvas").getContext("2d");
    measurer.font = FONT;
  }
  return measurer.measureText(text).width + LABEL_PAD_PX;
}

// The box of a label centred on (x, y), as the zones' names are.
export function centredBox(x, y, w) {
  return { x0: x - w / 2, x1: x + w / 2, y0: y - LABEL_H / 2, y1: y + LABEL_H / 2 };
}

function overlaps(a, b) {
  return a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;
}

// The narrowest a label is: a box this wide that overlaps a placed label rules a
// candidate out before its text is worded and measured.
const MIN_W = 60;

function boxAt(x, y, w) {
  return { x0: x - w / 2, x1: x + w / 2, y0: y - ABOVE_PX - LABEL_H, y1: y - ABOVE_PX };
}

// Greedy placement in priority order: `candidates` [{key, text(), x, y, forced}] (x, y
// the symbol's centre); a forced one (hovered, selected) is always placed, any other
// only where it overlaps neither a label placed before it nor one of the `taken`
// boxes (other labels on the map), and at most `max` in all. Returns the placed
// candidates, each with its text and box {x0, y0, x1, y1}.
export function placeLabels(candidates, max, taken = []) {
  const placed = [];
  const blocked = (box) => taken.some((b) => overlaps(b, box)) || placed.some((p) => overlaps(p.box, box));
  for (const c of candidates) {
    if (placed.length >= max && !c.forced) continue;
    const narrow = boxAt(c.x, c.y, MIN_W);
    if (!c.forced && blocked(narrow)) continue;
    const text = c.text();
    const w = Math.max(MIN_W, textWidth(text));
    const box = boxAt(c.x, c.y, w);
    if (!c.forced && blocked(box)) continue;
    placed.push({ ...c, text, box });
  }
  return placed;
}

// The label elements in one pane, reused from one drawing to the next.
export class LabelPane {
  constructor(pane) {
    this.pane = pane;
    this.shown = new Map(); // key -> element
  }

  // labels: [{key, text, x, y, tone, colour}] in the pane's pixel coordinates; `colour`
  // (a region's track: its site's) stripes the label's left edge.
  show(labels) {
    const keep = new Set();
    for (const l of labels) {
      keep.add(l.key);
      let el = this.shown.get(l.key);
      if (!el) {
        el = document.createElement("div");
        this.pane.append(el);
        this.shown.set(l.key, el);
      }
      const cls = `leaflet-tooltip label track-label${l.tone ? ` ${l.tone}` : ""}${l.colour ? " site" : ""}`;
      if (el.className !== cls) el.className = cls;
      if (l.colour && el.style.getPropertyValue("--site") !== l.colour) el.style.setProperty("--site", l.colour);
      if (el.textContent !== l.text) el.textContent = l.text;
      el.style.left = `${Math.round(l.x)}px`;
      el.style.top = `${Math.round(l.y - ABOVE_PX)}px`;
    }
    for (const [key, el] of this.shown) {
      if (!keep.has(key)) {
        el.remove();
        this.shown.delete(key);
      }
    }
  }
}
