// Talking to the skywarden service: sign-in, REST calls and the live WebSocket.
//
// The page never keeps the token: signing in hands it to the server once, which
// puts it in an HttpOnly cookie that no script (ours or an injected one) can read.

// Every request says it comes from this page: the server refuses a
// cookie-authenticated write without it (a cross-site form cannot set headers).
const PAGE_HEADER = { "X-Skywarden-Request": "1" };

function meta(name) {
  const el = document.querySelector(`meta[name="${name}"]`);
  return el ? el.content : "";
}

// {code: name} of the languages the server has catalogues for; English at least.
function languages() {
  try {
    const parsed = JSON.parse(meta("skywarden-languages"));
    if (parsed && typeof parsed === "object" && Object.keys(parsed).length) return parsed;
  } catch (e) {
    console.warn("languages:", e);
  }
  return { en: "English" };
}

export const config = {
  language: meta("skywarden-language"),
  languages: languages(),
  tilesUrl: meta("skywarden-tiles-url"),
  tilesAttribution: meta("skywarden-tiles-attribution"),
  tilesMaxZoom: Number(meta("skywarden-tiles-max-zoom") || 19),
  // Served by a region: tracks coloured and filtered by site, a site-health panel.
  regional: meta("skywarden-regional") === "1",
};

export class AuthError extends Error {}

export async function api(path, options = {}) {
  const headers = { ...(options.headers || {}), ...PAGE_HEADER };
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    options = { ...options, body: JSON.stringify(options.json) };
  }
  const res = await fetch(path, { ...options, headers, credentials: "same-origin" });
  if (res.status === 401) throw new AuthError("not signed in");
  if (!res.ok) {
    const text = await res.text();
    throw new Error(`${res.status}: ${text}`);
  }
  return res;
}

export async function apiJson(path, options) {
  return (await api(path, options)).json();
}

// Exchange a token for the session cookie; resolves to {name, role}.
export async function signIn(token) {
  return apiJson("/api/session", { method: "POST", headers: { Authorization: `Bearer ${token}` } });
}

export async function signOut() {
  await api("/api/session", { method: "DELETE" });
}

// Live updates, authenticated by the session cookie (the token stays out of the
// URL and out of the page). `onMessage(msg)` gets each parsed message;
// `onState("up"|"down"|"refused")` the connection's state.
export function connectLive(onMessage, onState) {
  let ws = null;
  let stopped = false;
  const open = () => {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    ws = new WebSocket(`${proto}//${location.host}/ws`);
    ws.onopen = () => onState("up");
    ws.onmessage = (ev) => onMessage(JSON.parse(ev.data));
    ws.onclose = (ev) => {
      if (ev.code === 1008) {
        onState("refused");
        return;
      }
      onState("down");
      if (!stopped) setTimeout(open, 2000);
    };
  };
  open();
  return () => {
    stopped = true;
    if (ws) ws.close();
  };
}
