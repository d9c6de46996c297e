// Talking to the skywarden service: token, REST calls and the live WebSocket.

const TOKEN_KEY = "skywarden-token";

function meta(name) {
  const el = document.querySelector(`meta[name="${name}"]`);
  return el ? el.content : "";
}

export const config = {
  tilesUrl: meta("skywarden-tiles-url"),
  tilesAttribution: meta("skywarden-tiles-attribution"),
  tilesMaxZoom: Number(meta("skywarden-tiles-max-zoom") || 19),
};

// A token injected by a demo's local session wins; else the one the user gave.
export function getToken() {
  return meta("skywarden-token") || sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

export class AuthError extends Error {}

export async function api(path, options = {}) {
  const headers = { ...(options.headers || {}), Authorization: `Bearer ${getToken()}` };
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    options = { ...options, body: JSON.stringify(options.json) };
  }
  const res = await fetch(path, { ...options, headers });
  if (res.status === 401) throw new AuthError("token refused");
  if (!res.ok) {
    const text = await res.text();
    throw new Error(`${res.status}: ${text}`);
  }
  return res;
}

export async function apiJson(path, options) {
  return (await api(path, options)).json();
}

// Live updates. The token travels as the second subprotocol, never in the URL,
// so it stays out of access logs. `onMessage(msg)` gets each parsed message;
// `onState("up"|"down"|"refused")` the connection's state.
export function connectLive(onMessage, onState) {
  let ws = null;
  let stopped = false;
  const open = () => {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    ws = new WebSocket(`${proto}//${location.host}/ws`, ["bearer", getToken()]);
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
