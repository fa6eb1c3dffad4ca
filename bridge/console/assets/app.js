// Switchboard console: one page, no framework. Talks to /console/api/
// with the session cookie; every mutation sends the CSRF token.
"use strict";

const $ = (sel) => document.querySelector(sel);
const state = { me: null, page: "live", live: null, paused: false, buffered: [], positions: new Map(), rates: [], statsTimer: null, lastStats: null };

async function api(method, path, body) {
  const opts = { method, headers: {}, credentials: "same-origin" };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  if (method !== "GET" && state.me && state.me.csrf) opts.headers["X-CSRF-Token"] = state.me.csrf;
  const resp = await fetch(path, opts);
  let data = {};
  try { data = await resp.json(); } catch (e) { data = {}; }
  if (!resp.ok) {
    const err = new Error(data.error || resp.statusText);
    err.status = resp.status;
    err.reason = data.reason;
    throw err;
  }
  return data;
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const c of cells) {
    if (c instanceof Node) { const td = document.createElement("td"); td.append(c); tr.append(td); } else tr.append(el("td", c));
  }
  return tr;
}

// ---- session -------------------------------------------------------------

async function loadMe() {
  state.me = await api("GET", "/console/api/me");
  render();
}

function render() {
  const me = state.me;
  const logged = !!(me && me.kind);
  $("#nav").hidden = !logged;
  const who = $("#who");
  who.replaceChildren();
  if (logged) {
    who.append(el("span", `${me.username} (${me.kind === "admin" ? "administrator" : "user"})`));
    const out = el("button", "Log out");
    out.id = "logout";
    out.addEventListener("click", logout);
    who.append(out);
    document.body.dataset.kind = me.kind;
    for (const b of document.querySelectorAll("nav button")) {
      b.hidden = (b.hasAttribute("data-admin") && me.kind !== "admin") || (b.hasAttribute("data-webhooks") && !me.webhooks);
    }
    show(state.page);
  } else {
    delete document.body.dataset.kind;
    stopLive();
    showOnly("login");
  }
}

function showOnly(name) {
  for (const s of document.querySelectorAll(".page")) s.hidden = s.id !== "page-" + name;
}

function show(name) {
  const btn = document.querySelector(`nav button[data-page="${name}"]`);
  if (!btn || btn.hidden) name = "live";
  state.page = name;
  for (const b of document.querySelectorAll("nav button")) b.classList.toggle("active", b.dataset.page === name);
  showOnly(name);
  clearInterval(state.statsTimer);
  if (name === "nodes") { refreshStats(); state.statsTimer = setInterval(refreshStats, 2000); }
  if (name === "channels") refreshChannels();
  if (name === "webhooks") refreshWebhooks();
}

async function logout() {
  try { await api("POST", "/console/api/logout"); } catch (e) { /* already gone */ }
  await loadMe();
}

function loginError(msg) { $("#login-error").textContent = msg; }

$("#login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  loginError("");
  try {
    await api("POST", "/console/api/login", { username: f.get("username"), password: f.get("password"), totp: f.get("totp") || "" });
    await loadMe();
  } catch (e) {
    if (e.reason === "TOTP_REQUIRED") {
      $("#totp-row").hidden = false;
      $("#login-form [name=totp]").focus();
      loginError("Enter the code from your authenticator app.");
    } else loginError(e.message);
  }
});

async function loginWithKey(kind, username, sessionkey) {
  await api("POST", "/console/api/login-key", { kind, username, sessionkey });
  await loadMe();
}

$("#key-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  loginError("");
  try { await loginWithKey(f.get("kind"), f.get("username"), f.get("sessionkey")); } catch (e) { loginError(e.message); }
});

// ---- postMessage single sign-on -------------------------------------------

function ssoTarget() {
  if (window.opener) return window.opener;
  if (window.parent && window.parent !== window) return window.parent;
  return null;
}

function announceLoaded() {
  const target = ssoTarget();
  if (!target) return;
  for (const origin of state.me.sso_origins) {
    try { target.postMessage({ msg: "app_loaded" }, origin); } catch (e) { /* not that origin */ }
  }
}

window.addEventListener("message", async (ev) => {
  if (!state.me || !state.me.sso_origins.includes(ev.origin)) return; // only configured origins
  const m = ev.data;
  if (!m || typeof m !== "object") return;
  const kind = m.msg === "session_login" ? "admin" : m.msg === "user_session_login" ? "user" : null;
  if (!kind || typeof m.sessionkey !== "string") return;
  try { await loginWithKey(kind, typeof m.username === "string" ? m.username : "", m.sessionkey); } catch (e) { loginError("Single sign-on refused: " + e.message); }
});

// ---- live events -----------------------------------------------------------

function liveQuery(withSince) {
  const f = new FormData($("#live-form"));
  const q = new URLSearchParams();
  for (const k of ["tenant", "channels", "names", "keys"]) if (f.get(k)) q.set(k, f.get(k));
  if (!q.get("channels")) q.set("channels", "*");
  if (withSince && state.positions.size) q.set("since", JSON.stringify([...state.positions.values()]));
  return "/console/api/events?" + q.toString();
}

function setLiveState(text, live) {
  const s = $("#live-state");
  s.textContent = text;
  s.classList.toggle("live", !!live);
}

function stopLive() {
  if (state.live) { state.live.close(); state.live = null; }
  clearTimeout(state.reconnect);
  setLiveState("stopped");
}

function startLive(resume) {
  stopLive();
  const es = new EventSource(liveQuery(resume));
  state.live = es;
  es.addEventListener("subscribed", () => setLiveState("live", true));
  es.addEventListener("message", (m) => onEvent(JSON.parse(m.data)));
  es.addEventListener("error", (m) => {
    let reason = "";
    if (m.data) { try { const d = JSON.parse(m.data); reason = d.reason; setLiveState("stream ended: " + d.error); } catch (e) { /* plain network error */ } }
    es.close();
    if (state.live !== es) return;
    state.live = null;
    if (reason === "OutOfRange") state.positions.clear(); // history no longer covers the gap: start fresh
    setLiveState("reconnecting…");
    state.reconnect = setTimeout(() => startLive(true), 1000);
  });
}

function onEvent(ev) {
  if (ev.offset) state.positions.set((ev.tenant || "") + "\u0000" + ev.channel, { tenant: ev.tenant || "", channel: ev.channel, position: { offset: ev.offset, epoch: ev.epoch } });
  if (state.paused) { state.buffered.push(ev); if (state.buffered.length > 1000) state.buffered.shift(); return; }
  addEventRow($("#live-events"), ev, true);
}

function dataCell(text) {
  const td = el("td", text, "data");
  td.title = "click to expand";
  td.addEventListener("click", () => {
    td.classList.toggle("open");
    if (td.classList.contains("open")) { try { td.textContent = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { td.textContent = text; } } else td.textContent = text;
  });
  return td;
}

function addEventRow(tbody, ev, withTenant) {
  const tr = document.createElement("tr");
  tr.className = "event";
  const time = ev.time ? new Date(ev.time).toLocaleTimeString() : "";
  const cells = withTenant ? [time, ev.tenant || "", ev.channel, ev.name || "", ev.key || "", ev.offset || ""] : [time, ev.channel, ev.name || "", ev.key || "", ev.offset || ""];
  for (const c of cells) tr.append(el("td", c));
  tr.append(dataCell(ev.data || ""));
  tbody.prepend(tr);
  while (tbody.children.length > 500) tbody.lastChild.remove();
}

$("#live-form").addEventListener("submit", (ev) => { ev.preventDefault(); state.positions.clear(); startLive(false); });
$("#live-pause").addEventListener("click", () => {
  state.paused = !state.paused;
  $("#live-pause").textContent = state.paused ? "Resume" : "Pause";
  if (!state.paused) { for (const ev of state.buffered) addEventRow($("#live-events"), ev, true); state.buffered = []; }
});
$("#live-clear").addEventListener("click", () => { $("#live-events").replaceChildren(); state.buffered = []; });

// ---- publish -----------------------------------------------------------------

const dataField = $("#publish-form [name=data]");
dataField.addEventListener("input", () => {
  try { JSON.parse(dataField.value); $("#publish-json").textContent = "valid JSON"; dataField.setCustomValidity(""); } catch (e) { $("#publish-json").textContent = "not JSON: " + e.message; dataField.setCustomValidity("data must be JSON"); }
});
$("#publish-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const out = $("#publish-result");
  try {
    JSON.parse(f.get("data"));
  } catch (e) { out.textContent = "Data is not valid JSON: " + e.message; out.className = "error"; return; }
  try {
    const r = await api("POST", "/console/api/publish", { tenant: f.get("tenant"), channel: f.get("channel"), name: f.get("name"), key: f.get("key"), data: f.get("data") });
    out.className = "";
    out.textContent = `Published ${r.id}` + (r.position && r.position.offset ? ` at offset ${r.position.offset}` : "");
  } catch (e) { out.className = "error"; out.textContent = e.message; }
});

// ---- channels and presence -------------------------------------------------

async function refreshChannels() {
  const f = new FormData($("#channels-form"));
  const q = new URLSearchParams({ tenant: f.get("tenant") || "*", prefix: f.get("prefix") || "" });
  const body = $("#channels");
  try {
    const r = await api("GET", "/console/api/channels?" + q);
    body.replaceChildren(...(r.channels || []).map((c) => {
      const b = el("button", "presence");
      b.addEventListener("click", () => showPresence(c.tenant || "", c.channel));
      return row([c.tenant || "", c.channel, String(c.num_sessions || 0), String(c.num_users || 0), b]);
    }));
  } catch (e) { body.replaceChildren(row([e.message])); }
}

async function showPresence(tenant, channel) {
  $("#presence-title").textContent = `Who is in ${channel}` + (tenant ? ` (tenant ${tenant})` : "");
  const body = $("#presence");
  try {
    const r = await api("GET", "/console/api/presence?" + new URLSearchParams({ tenant, channel }));
    body.replaceChildren(...(r.sessions || []).map((s) => {
      const actions = document.createElement("span");
      if (s.user) {
        const unsub = el("button", "unsubscribe");
        unsub.addEventListener("click", async () => { await api("POST", "/console/api/unsubscribe", { tenant, user: s.user, channel }); showPresence(tenant, channel); });
        const disc = el("button", "disconnect");
        disc.addEventListener("click", async () => { await api("POST", "/console/api/disconnect", { tenant, user: s.user }); showPresence(tenant, channel); });
        actions.append(unsub, " ", disc);
      }
      return row([s.user || "(anonymous)", s.face || "", s.id, s.node || "", s.connected_at ? new Date(s.connected_at).toLocaleString() : "", actions]);
    }));
  } catch (e) { body.replaceChildren(row([e.message])); }
}
$("#channels-form").addEventListener("submit", (ev) => { ev.preventDefault(); refreshChannels(); });

// ---- history -----------------------------------------------------------------

$("#history-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  $("#history-error").textContent = "";
  const body = $("#history");
  body.replaceChildren();
  try {
    const r = await api("GET", "/console/api/history?" + new URLSearchParams({ tenant: f.get("tenant") || "", channel: f.get("channel"), limit: f.get("limit") || "50" }));
    for (const e of (r.events || []).slice().reverse()) addEventRow(body, e, false);
  } catch (e) { $("#history-error").textContent = e.message; }
});

// ---- nodes -------------------------------------------------------------------

async function refreshStats() {
  let r;
  try { r = await api("GET", "/console/api/stats"); } catch (e) { return; }
  const nodes = (r.nodes && r.nodes.nodes) || [];
  let pub = 0, del = 0;
  $("#nodes").replaceChildren(...nodes.map((n) => {
    pub += Number(n.num_published || 0);
    del += Number(n.num_delivered || 0);
    return row([n.name, n.version || "", String(n.num_sessions || 0), String(n.num_users || 0), String(n.num_channels || 0), String(n.num_published || 0), String(n.num_delivered || 0), String(n.num_slow_consumers || 0), (n.uptime_seconds || 0) + " s"]);
  }));
  const faces = $("#faces");
  faces.replaceChildren(...Object.entries(r.connections || {}).sort().map(([face, n]) => el("span", `${face}: ${n} connections`, "face")));
  const last = state.lastStats;
  if (last) {
    const dt = (r.time_ms - last.time) / 1000;
    if (dt > 0) state.rates.push({ pub: Math.max(0, (pub - last.pub) / dt), del: Math.max(0, (del - last.del) / dt) });
    if (state.rates.length > 60) state.rates.shift();
  }
  state.lastStats = { time: r.time_ms, pub, del };
  drawChart();
}

function drawChart() {
  const c = $("#rate-chart");
  const g = c.getContext("2d");
  g.clearRect(0, 0, c.width, c.height);
  const max = Math.max(1, ...state.rates.map((p) => Math.max(p.pub, p.del)));
  g.fillStyle = "#5b6470";
  g.font = "11px system-ui";
  g.fillText(`${Math.round(max)}/s`, 4, 12);
  const line = (key, color) => {
    g.strokeStyle = color;
    g.lineWidth = 2;
    g.beginPath();
    state.rates.forEach((p, i) => {
      const x = (i / 59) * (c.width - 8) + 4;
      const y = c.height - 6 - (p[key] / max) * (c.height - 24);
      if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
    });
    g.stroke();
  };
  line("pub", "#1f6feb");
  line("del", "#1a7f37");
}

// ---- webhooks ----------------------------------------------------------------

async function refreshWebhooks() {
  const body = $("#webhooks");
  try {
    const r = await api("GET", "/console/api/webhooks");
    body.replaceChildren(...(r.webhooks || []).map((w) => row([w.name, (w.option && w.option.url) || "", String(w.queued || 0), String(w.delivered || 0), String(w.retried || 0), String(w.dead_lettered || 0), w.last_error || ""])));
  } catch (e) { body.replaceChildren(row([e.message])); }
}

// ---- start -------------------------------------------------------------------

for (const b of document.querySelectorAll("nav button")) b.addEventListener("click", () => show(b.dataset.page));

loadMe().then(() => {
  document.body.dataset.ready = "1";
  announceLoaded();
}).catch((e) => loginError("Cannot reach the server: " + e.message));
