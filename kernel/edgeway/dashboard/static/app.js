// edgeway dashboard: plain JavaScript, no build step, no other origin.
// Reads the API (Traefik's paths and shapes) and renders with DOM nodes only
// (never innerHTML), so names and rules from configurations cannot inject markup.
"use strict";

const API = document.querySelector('meta[name="edgeway-api"]').content;
const REFRESH_MS = 5000;
const PROTOCOLS = {
  http: ["routers", "services", "middlewares"],
  tcp: ["routers", "services", "middlewares"],
  udp: ["routers", "services"],
};
const STATUSES = ["enabled", "warning", "disabled"];

// ------------------------------------------------------------------ helpers

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

async function api(path) {
  const response = await fetch(API + path, { headers: { Accept: "application/json" } });
  if (!response.ok) {
    let message = response.status + " " + response.statusText;
    try { message = (await response.json()).message || message; } catch (_) { /* not JSON */ }
    const error = new Error(message);
    error.status = response.status;
    throw error;
  }
  return { data: await response.json(), next: Number(response.headers.get("X-Next-Page") || "1") };
}

const enc = encodeURIComponent;
const link = (proto, kind, name) => el("a", { href: `#/${proto}/${kind}/${enc(name)}` }, name);
const badge = (status) => el("span", { class: `badge ${status || ""}`, "data-status": status }, status || "unknown");
const chips = (items) => (items && items.length ? items.map((i) => el("span", { class: "chip" }, i)) : el("span", { class: "muted" }, "—"));

function errorList(item) {
  if (!item.error || !item.error.length) return null;
  const cls = item.status === "disabled" ? "errors" : "errors warn";
  return el("ul", { class: cls }, item.error.map((e) => el("li", { class: "error-text" }, e)));
}

// The service name a router points at, qualified with the router's provider (as Traefik does).
function qualify(name, provider) {
  return !name || name.includes("@") ? name : `${name}@${provider}`;
}

function typeOf(item) {
  if (item.type) return item.type;
  for (const key of ["loadBalancer", "weighted", "mirroring", "failover"]) if (item[key]) return key.toLowerCase();
  return "";
}

function json(value) {
  return el("pre", { class: "json" }, JSON.stringify(value, null, 2));
}

function props(rows) {
  return el("dl", { class: "props" }, rows.filter(Boolean).map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

// ------------------------------------------------------------------ routing

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, query = ""] = raw.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { parts, params: new URLSearchParams(query) };
}

function setQuery(params) {
  const { parts } = parseHash();
  const query = params.toString();
  history.replaceState(null, "", "#/" + parts.map(enc).join("/") + (query ? "?" + query : ""));
}

let current = null; // { update: async () => void }

function route() {
  const { parts, params } = parseHash();
  const main = document.getElementById("main");
  const [proto, kind, name] = parts;
  let view;
  if (!parts.length) view = overviewView();
  else if (PROTOCOLS[proto] && PROTOCOLS[proto].includes(kind) && name === undefined) view = listView(proto, kind, params);
  else if (PROTOCOLS[proto] && PROTOCOLS[proto].includes(kind)) view = detailView(proto, kind, name);
  else view = { node: el("p", { class: "panel-error" }, "Unknown page."), update: async () => {} };
  main.replaceChildren(view.node);
  current = view;
  const section = parts.length ? `${proto}/${kind}` : "overview";
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.section === section);
  refresh();
}

async function refresh() {
  const view = current;
  const live = document.getElementById("live");
  try {
    await view.update();
    live.classList.remove("stale");
    live.textContent = "live · " + new Date().toLocaleTimeString();
  } catch (error) {
    live.classList.add("stale");
    live.textContent = "API unreachable";
    if (view === current && view.fail) view.fail(error);
  }
}

// ------------------------------------------------------------------ overview

function overviewView() {
  const body = el("div", {});
  const node = el("section", { id: "overview" }, el("h1", {}, "Overview"), body);
  async function update() {
    const [overview, entrypoints] = await Promise.all([api("overview"), api("entrypoints")]);
    const o = overview.data;
    const cards = [];
    for (const [proto, kinds] of Object.entries(PROTOCOLS)) {
      for (const kind of kinds) {
        const c = (o[proto] && o[proto][kind]) || { total: 0, warnings: 0, errors: 0 };
        const ok = c.total - c.warnings - c.errors;
        cards.push(el("a", { class: "card", href: `#/${proto}/${kind}`, "data-counts": `${proto}/${kind}` },
          el("h3", {}, `${proto.toUpperCase()} ${kind}`),
          el("div", { class: "total" }, c.total),
          el("div", { class: "counts" },
            el("span", { class: "ok" }, `${ok} success`),
            el("span", { class: "warn" }, `${c.warnings} warnings`),
            el("span", { class: "err" }, `${c.errors} errors`))));
      }
    }
    const features = o.features || {};
    body.replaceChildren(
      el("h2", {}, "Entry points"),
      el("div", { class: "cards" }, entrypoints.data.map((ep) =>
        el("div", { class: "card", "data-entrypoint": ep.name }, el("h3", {}, ep.name), el("code", {}, ep.address)))),
      el("h2", {}, "Routers, services and middlewares"),
      el("div", { class: "cards" }, cards),
      el("h2", {}, "Providers"),
      el("div", { class: "cards" }, (o.providers || []).map((p) => el("div", { class: "card" }, el("h3", {}, p)))),
      el("h2", {}, "Features"),
      props(Object.entries(features).map(([k, v]) => [k, v === true ? "on" : v === false || v === "" ? "off" : String(v)])),
    );
  }
  return { node, update, fail: (e) => body.replaceChildren(el("p", { class: "panel-error" }, e.message)) };
}

// ------------------------------------------------------------------ lists

const COLUMNS = {
  routers: (proto) => ["Status", "Name", proto === "udp" ? null : "Rule", "Entry points", "Service", "Provider"].filter(Boolean),
  services: () => ["Status", "Name", "Type", "Servers", "Provider"],
  middlewares: () => ["Status", "Name", "Type", "Provider"],
};

function row(proto, kind, item) {
  const status = el("td", {}, badge(item.status));
  const name = el("td", {}, link(proto, kind, item.name), errorList(item));
  let cells;
  if (kind === "routers") {
    cells = [status, name,
      proto === "udp" ? null : el("td", {}, el("code", {}, item.rule || "")),
      el("td", {}, chips(item.entryPoints)),
      el("td", {}, item.service ? link(proto, "services", qualify(item.service, item.provider)) : "—"),
      el("td", {}, item.provider)];
  } else if (kind === "services") {
    const servers = (item.loadBalancer && item.loadBalancer.servers) || [];
    cells = [status, name, el("td", {}, typeOf(item)), el("td", {}, servers.length || "—"), el("td", {}, item.provider)];
  } else {
    cells = [status, name, el("td", {}, item.type || ""), el("td", {}, item.provider)];
  }
  return el("tr", { class: `status-${item.status}`, "data-name": item.name, "data-status": item.status }, cells);
}

function listView(proto, kind, params) {
  const search = el("input", { type: "search", placeholder: "Search by name, rule, provider…", "aria-label": "Search", value: params.get("search") || "" });
  const status = el("select", { "aria-label": "Status" },
    el("option", { value: "" }, "All statuses"),
    STATUSES.map((s) => el("option", { value: s, selected: params.get("status") === s }, s)));
  const results = el("div", {});
  let page = Number(params.get("page") || "1");
  let timer = null;
  function changed() {
    page = 1;
    const next = new URLSearchParams();
    if (search.value) next.set("search", search.value);
    if (status.value) next.set("status", status.value);
    setQuery(next);
    refresh();
  }
  search.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(changed, 250); });
  status.addEventListener("change", changed);
  const node = el("section", { id: "list", "data-kind": `${proto}/${kind}` },
    el("h1", {}, `${proto.toUpperCase()} ${kind}`),
    el("div", { class: "toolbar" }, search, status),
    results);
  async function update() {
    const query = new URLSearchParams({ page: String(page), per_page: "100" });
    if (search.value) query.set("search", search.value);
    if (status.value) query.set("status", status.value);
    const { data, next } = await api(`${proto}/${kind}?${query}`);
    const pager = el("div", { class: "pager" },
      page > 1 ? el("button", { onclick: () => { page -= 1; refresh(); } }, "Previous page") : null,
      next > page ? el("button", { onclick: () => { page = next; refresh(); } }, "Next page") : null);
    results.replaceChildren(data.length
      ? el("table", {}, el("thead", {}, el("tr", {}, COLUMNS[kind](proto).map((c) => el("th", {}, c)))),
        el("tbody", {}, data.map((item) => row(proto, kind, item))))
      : el("p", { class: "muted" }, "Nothing matches."), pager);
  }
  return { node, update, fail: (e) => results.replaceChildren(el("p", { class: "panel-error" }, e.message)) };
}

// ------------------------------------------------------------------ details

function usedBy(proto, item) {
  return item.usedBy && item.usedBy.length ? item.usedBy.map((r) => [link(proto, "routers", r), " "]) : el("span", { class: "muted" }, "—");
}

function routerDetail(proto, r) {
  return [props([
    ["Status", badge(r.status)],
    ["Provider", r.provider],
    proto !== "udp" && ["Rule", el("code", {}, r.rule || "")],
    r.ruleSyntax && ["Rule syntax", r.ruleSyntax],
    r.priority !== undefined && ["Priority", String(r.priority)],
    ["Entry points", chips(r.entryPoints)],
    r.using && ["Using", chips(r.using)],
    proto !== "udp" && ["Middlewares", r.middlewares && r.middlewares.length
      ? r.middlewares.map((m) => [link(proto, "middlewares", qualify(m, r.provider)), " "]) : el("span", { class: "muted" }, "—")],
    ["Service", r.service ? link(proto, "services", qualify(r.service, r.provider)) : "—"],
    proto !== "udp" && ["TLS", r.tls ? json(r.tls) : el("span", { class: "muted" }, "no")],
  ])];
}

function serviceDetail(proto, s) {
  const servers = (s.loadBalancer && s.loadBalancer.servers) || [];
  const serverStatus = s.serverStatus || {};
  const table = servers.length
    ? el("table", { id: "servers" }, el("thead", {}, el("tr", {}, el("th", {}, "Server"), el("th", {}, "Status"))),
      el("tbody", {}, servers.map((srv) => {
        const address = srv.url || srv.address;
        const state = serverStatus[address];
        return el("tr", {}, el("td", {}, el("code", {}, address)),
          el("td", {}, state ? badge(state.toLowerCase()) : el("span", { class: "muted" }, "—")));
      })))
    : null;
  const config = { ...s };
  for (const key of ["name", "provider", "status", "error", "usedBy", "serverStatus", "type"]) delete config[key];
  return [props([
    ["Status", badge(s.status)],
    ["Provider", s.provider],
    ["Type", typeOf(s)],
    ["Used by", usedBy(proto, s)],
  ]), table && [el("h2", {}, "Servers"), table], el("h2", {}, "Configuration"), json(config)];
}

function middlewareDetail(proto, m) {
  const config = { ...m };
  for (const key of ["name", "provider", "status", "error", "usedBy", "type"]) delete config[key];
  return [props([
    ["Status", badge(m.status)],
    ["Provider", m.provider],
    ["Type", m.type || ""],
    ["Used by", usedBy(proto, m)],
  ]), el("h2", {}, "Configuration"), json(config)];
}

function detailView(proto, kind, name) {
  const body = el("div", {});
  const node = el("section", { id: "detail", "data-kind": `${proto}/${kind}` },
    el("p", {}, el("a", { href: `#/${proto}/${kind}` }, `← ${proto.toUpperCase()} ${kind}`)),
    el("h1", {}, name), body);
  const render = { routers: routerDetail, services: serviceDetail, middlewares: middlewareDetail }[kind];
  async function update() {
    const { data } = await api(`${proto}/${kind}/${enc(name)}`);
    const errors = errorList(data);
    body.replaceChildren(
      el("div", { class: `detail status-${data.status}`, "data-status": data.status },
        errors && el("div", { class: data.status === "disabled" ? "panel-error" : "" }, el("strong", {}, "Errors"), errors),
        render(proto, data)));
  }
  return { node, update, fail: (e) => body.replaceChildren(el("p", { class: "panel-error" }, e.status === 404 ? `Not found: ${name}` : e.message)) };
}

// ------------------------------------------------------------------ start

async function version() {
  try {
    const { data } = await api("version");
    document.getElementById("version").textContent = `edgeway ${data.Version}`;
  } catch (_) { /* shown by the live indicator */ }
}

window.addEventListener("hashchange", route);
setInterval(refresh, REFRESH_MS);
version();
route();
