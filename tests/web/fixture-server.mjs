// A stand-in for `fathom run`'s HTTP side, for the dashboard's browser tests: serves web/ as the
// real server does (every .html .js .css .svg at /<name>, index.html at /) and answers the
// /api/v1 endpoints of docs/api.md with fixture data around the current time, enforcing the
// same auth rules (admin token; tenant token of tenant 1, to which tenant 2 is a 404; 401
// without a token). No dependencies.
//
//   node tests/web/fixture-server.mjs [port]     serves until stopped, prints the URLs

import http from "node:http";
import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const webDir = path.resolve(here, "../../web");

export const kAdminToken = "fixture-admin-token";
export const kTenantToken = "fixture-tenant1-token";
const kTokens = {
  [kAdminToken]: { name: "fixture-admin", admin: true, tenant_id: null },
  [kTenantToken]: { name: "acme-noc", admin: false, tenant_id: 1 },
};

const kContentTypes = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                        ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml" };

// ---- fixture data, laid around the time the server starts -------------------------------

const t0 = Date.now();
const min = 60e3;

function est(value, relHalfWidth) {
  return { value, ci_low: value * (1 - relHalfWidth), ci_high: value * (1 + relHalfWidth) };
}

const tenants = [
  { id: 1, name: "acme", baseBps: 3.1e8, exporters: 2, sampling: { target: 0, probability: 1.0 } },
  { id: 2, name: "globex", baseBps: 4.2e7, exporters: 2, sampling: { target: 2000, probability: 0.5 } },
];

const incidents = [
  {
    id: "a11ce0000000anom", version: 3, tenant_id: 1, type: "anomaly", detail: "",
    subject: "10.1.0.23", state: "open", severity: 72.5, severity_level: "high", peak_severity: 80,
    start_ms: t0 - 9 * min, last_seen_ms: t0 - 20e3, end_ms: null, detected_ms: t0 - 8 * min,
    detections: 6, summary: "anomaly on 10.1.0.23: 40 distinct ports where it usually uses 3",
    evidence: [{ name: "reconstruction_score", value: 7.2, ci_low: 6.8, ci_high: 7.6, threshold: 5, usual: 1.1 }],
    top_peers: [{ key: "10.1.0.5", weight: 1.2e6 }, { key: "10.1.0.9", weight: 4.0e5 }],
    top_ports: [{ key: "tcp/22", weight: 8.0e5 }, { key: "tcp/3389", weight: 2.1e5 }],
    explanation: { score: 7.2, threshold: 5, features: [
      { name: "distinct_ports", value: 40, usual: 3 },
      { name: "syn_ratio", value: 0.92, usual: 0.18 },
      { name: "bytes_out_per_s", value: 5.2e4, usual: 1.1e5 },
    ] },
    history: [
      { version: 1, event: "open", state: "open", severity: 55, severity_level: "medium", last_seen_ms: t0 - 8 * min },
      { version: 2, event: "update", state: "open", severity: 80, severity_level: "high", last_seen_ms: t0 - 4 * min },
      { version: 3, event: "update", state: "open", severity: 72.5, severity_level: "high", last_seen_ms: t0 - 20e3 },
    ],
    flows: null,
  },
  {
    id: "0f35e00aa3fc1f0d", version: 2, tenant_id: 1, type: "exfiltration", detail: "",
    subject: "10.1.0.77", state: "closed", severity: 91.3, severity_level: "critical", peak_severity: 100,
    start_ms: t0 - 40 * min, last_seen_ms: t0 - 31 * min, end_ms: t0 - 30 * min, detected_ms: t0 - 39 * min,
    detections: 14,
    // An API string with markup in it: the dashboard must show it as text.
    summary: "exfiltration from 10.1.0.77: 25 MB/s to 185.58.145.180 <img src=x onerror=\"window.__xss=1\">",
    evidence: [{ name: "bytes_out_external_per_s", value: 2.5e7, ci_low: 2.4e7, ci_high: 2.6e7, threshold: 1e6, usual: 0 }],
    top_peers: [{ key: "185.58.145.180", weight: 2.55e8 }], top_ports: [{ key: "443", weight: 2.5e8 }],
    explanation: null,
    history: [
      { version: 1, event: "open", state: "open", severity: 91.3, severity_level: "critical", last_seen_ms: t0 - 39 * min },
      { version: 2, event: "close", state: "closed", severity: 91.3, severity_level: "critical", last_seen_ms: t0 - 31 * min },
    ],
    flows: null,
  },
  {
    id: "5yn0000000f100d1", version: 1, tenant_id: 1, type: "syn_flood", detail: "",
    subject: "10.1.0.80", state: "open", severity: 41, severity_level: "medium", peak_severity: 41,
    start_ms: t0 - 3 * min, last_seen_ms: t0 - 10e3, end_ms: null, detected_ms: t0 - 3 * min,
    detections: 3, summary: "SYN flood against 10.1.0.80:443, 12 kpkt/s of SYN from 1 830 sources",
    evidence: [{ name: "syn_per_s", value: 1.2e4, ci_low: 1.1e4, ci_high: 1.3e4, threshold: 5e3, usual: 40 }],
    top_peers: [], top_ports: [{ key: "443", weight: 9e5 }], explanation: null,
    history: [{ version: 1, event: "open", state: "open", severity: 41, severity_level: "medium", last_seen_ms: t0 - 10e3 }],
    flows: null,
  },
  {
    id: "91b3x0000000sc4n", version: 1, tenant_id: 2, type: "horizontal_scan", detail: "",
    subject: "192.0.2.44", state: "open", severity: 30, severity_level: "low", peak_severity: 30,
    start_ms: t0 - 6 * min, last_seen_ms: t0 - 30e3, end_ms: null, detected_ms: t0 - 5 * min,
    detections: 2, summary: "horizontal scan from 192.0.2.44: 310 hosts on tcp/23",
    evidence: [], top_peers: [], top_ports: [], explanation: null,
    history: [{ version: 1, event: "open", state: "open", severity: 30, severity_level: "low", last_seen_ms: t0 - 30e3 }],
    flows: null,
  },
];

const exporters = [
  { address: "127.0.0.11", tenant_id: 1, protocol: "ipfix", live: true, status: "active",
    first_seen_ms: t0 - 3600e3, last_seen_ms: t0 - 1000, packets_per_s: 12.5, records_per_s: 410,
    packets_total: 1116, records_total: 17841, bytes_total: 1523000,
    sampling: { known: true, rate: 100, records_unknown_total: 0 },
    templates: { active: 3, added_total: 3, withdrawn_total: 0 },
    parked_total: 0, malformed_total: 0, malformed_by_reason: { truncated: 0, bad_set_length: 0 },
    rejected_records_total: 0 },
  { address: "127.0.0.12", tenant_id: 1, protocol: "netflow_v9", live: true, status: "stale",
    first_seen_ms: t0 - 3600e3, last_seen_ms: t0 - 95e3, packets_per_s: 0, records_per_s: 0,
    packets_total: 530, records_total: 9120, bytes_total: 712000,
    sampling: { known: false, rate: null, records_unknown_total: 120 },
    templates: { active: 1, added_total: 2, withdrawn_total: 1 },
    parked_total: 14, malformed_total: 3, malformed_by_reason: { truncated: 2, bad_set_length: 1 },
    rejected_records_total: 0 },
  { address: "127.0.0.21", tenant_id: 2, protocol: "netflow_v5", live: true, status: "active",
    first_seen_ms: t0 - 1800e3, last_seen_ms: t0 - 2000, packets_per_s: 4.1, records_per_s: 120,
    packets_total: 7400, records_total: 216000, bytes_total: 9.9e6,
    sampling: { known: true, rate: 1000, records_unknown_total: 0 },
    templates: { active: 0, added_total: 0, withdrawn_total: 0 },
    parked_total: 0, malformed_total: 0, malformed_by_reason: {}, rejected_records_total: 0 },
  { address: "127.0.0.22", tenant_id: 2, protocol: "ipfix", live: false, status: "silent",
    first_seen_ms: t0 - 86400e3, last_seen_ms: t0 - 7200e3, packets_per_s: null, records_per_s: null,
    packets_total: 88000, records_total: 1.3e6, bytes_total: 8.1e7,
    sampling: { known: true, rate: 512, records_unknown_total: 0 },
    templates: { active: 2, added_total: 2, withdrawn_total: 0 },
    parked_total: 0, malformed_total: 0, malformed_by_reason: {}, rejected_records_total: 0 },
];

const kSplits = {
  total: [["total", 1]],
  direction: [["inbound", 0.58], ["outbound", 0.3], ["internal", 0.1], ["transit", 0.02]],
  protocol: [["tcp", 0.7], ["udp", 0.25], ["icmp", 0.04], ["other", 0.01]],
};

function trafficAt(tenant, t) {
  const wave = 1 + 0.25 * Math.sin(t / (23 * min)) + 0.08 * Math.sin(t / (97e3));
  const exfil = incidents[1];
  const bump = tenant.id === 1 && t >= exfil.start_ms && t <= exfil.end_ms ? 2.0e8 : 0;
  return tenant.baseBps * wave + bump;
}

function currentTraffic(tenant) {
  const end = Math.floor(Date.now() / 10e3) * 10e3;
  const bps = trafficAt(tenant, end);
  return { window_s: 10, end_ms: end, bps: est(bps, 0.035), pps: est(bps / 8 / 620, 0.03),
           fps: est(bps / 8 / 620 / 45, 0.06) };
}

function openIncidents(tenantId) {
  const open = { low: 0, medium: 0, high: 0, critical: 0, total: 0 };
  for (const inc of incidents) {
    if (inc.tenant_id === tenantId && inc.state === "open") {
      open[inc.severity_level] += 1;
      open.total += 1;
    }
  }
  return open;
}

function tenantObject(tenant) {
  return { id: tenant.id, name: tenant.name, first_seen_ms: t0 - 86400e3, last_seen_ms: Date.now() - 2000,
           traffic: currentTraffic(tenant), open_incidents: openIncidents(tenant.id),
           exporters: tenant.exporters, sampling: tenant.sampling };
}

function summaryOf(inc) {
  const { evidence, top_peers, top_ports, explanation, history, flows, ...rest } = inc;
  return rest;
}

// ---- request handling -------------------------------------------------------------------

class HttpError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const badParameter = (message) => new HttpError(400, "bad_parameter", message);
const notFound = () => new HttpError(404, "not_found", "no such resource");

/// A time parameter: RFC 3339, Unix ms, a duration before now (-15m) or `now`.
function parseTime(name, text, now) {
  if (text === "now") return now;
  let m = /^-(\d+)(s|m|h|d)$/.exec(text);
  if (m) return now - Number(m[1]) * { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[m[2]];
  if (/^\d{10,16}$/.test(text)) return Number(text);
  m = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.exec(text);
  if (m) return Date.parse(text);
  throw badParameter(`${name}: expected an RFC 3339 time, Unix milliseconds, a duration like -15m, or now`);
}

function params(url, allowed) {
  const out = {};
  for (const [key, value] of url.searchParams) {
    if (!allowed.includes(key)) throw badParameter(`unknown parameter ${key}; this endpoint takes ${allowed.join(", ")}`);
    out[key] = value;
  }
  return out;
}

function intParam(p, name, lo, hi, def) {
  if (p[name] === undefined) return def;
  const n = Number(p[name]);
  if (!Number.isInteger(n) || n < lo || n > hi) throw badParameter(`${name}: expected an integer in ${lo}..${hi}`);
  return n;
}

function span(p, defFrom) {
  const now = Date.now();
  const from = parseTime("from", p.from ?? defFrom, now);
  const to = parseTime("to", p.to ?? "now", now);
  if (from >= to) throw badParameter("from: must be before to");
  return { from, to };
}

function visibleTenant(who, idText) {
  const id = Number(idText);
  const tenant = tenants.find((t) => t.id === id);
  if (!tenant || (!who.admin && who.tenant_id !== id)) throw notFound();
  return tenant;
}

function traffic(tenant, p) {
  const { from, to } = span(p, "-1h");
  const by = p.by ?? "total";
  if (!kSplits[by]) throw badParameter("by: expected total, direction or protocol");
  let step;
  if (p.step !== undefined) {
    const m = /^(\d+)(s|m|h)$/.exec(p.step);
    step = m ? Number(m[1]) * { s: 1e3, m: 60e3, h: 3600e3 }[m[2]] : NaN;
    if (!(step === 10e3 || (step > 0 && step % 60e3 === 0))) throw badParameter("step: expected 10s or a multiple of 60s");
  } else {
    step = to - from <= 15 * min ? 10e3 : Math.ceil((to - from) / 360 / 60e3) * 60e3;
  }
  const first = Math.floor(from / step) * step;
  if ((to - first) / step > 2000) throw badParameter("from: more than 2000 points; choose a longer step");
  const live = to - from <= 15 * min && step === 10e3;
  const series = kSplits[by].map(([key, share]) => {
    const points = [];
    for (let t = first; t < to; t += step) {
      // A gap: a minute without data every 17 minutes, and a few missing 10-s steps.
      if (Math.floor(t / min) % 17 === 5 || (live && Math.floor(t / 10e3) % 29 === 3)) continue;
      const bps = trafficAt(tenant, t) * share;
      const rel = live ? 0.04 / Math.sqrt(share) : 0.015 / Math.sqrt(share);
      points.push({ t_ms: t, bps: est(bps, rel), pps: est(bps / 8 / 620, rel), fps: est(bps / 8 / 620 / 45, rel * 1.6) });
    }
    return { key, points };
  });
  return { tenant_id: tenant.id, from_ms: from, to_ms: to, step_s: step / 1000, by, confidence: 0.95,
           source: live ? "live" : "rollups", series };
}

function top(tenant, p) {
  const kinds = {
    // Long IPv6 keys, as real traffic has: the three tables must still fit side by side.
    sources: ["10.1.0.77", "2001:db8:1:0:ffff:ffff:ffff:ff07", "10.1.0.80", "10.1.0.5", "10.1.0.9"],
    destinations: ["185.58.145.180", "2a01:4f8:3c95:a026:74f3:6eb6:1:2", "10.1.0.80", "1.1.1.1", "8.8.8.8"],
    ports: ["tcp/443", "udp/53", "tcp/22", "tcp/80", "udp/123"],
  };
  if (!p.kind) throw badParameter("kind: required; expected sources, destinations or ports");
  if (!kinds[p.kind]) throw badParameter("kind: expected sources, destinations or ports");
  const { from, to } = span(p, "-5m");
  const limit = intParam(p, "limit", 1, 100, 10);
  const secs = (to - from) / 1000;
  const total = tenant.baseBps / 8 * secs;
  const items = kinds[p.kind].slice(0, limit).map((key, idx) => {
    const share = 0.27 / (idx + 1);
    const bytes = total * share;
    return { key, bytes, error: bytes * 0.017 * (idx + 1), share, bps: bytes * 8 / secs };
  });
  return { tenant_id: tenant.id, kind: p.kind, from_ms: from, to_ms: to, source: "rollups", items };
}

function geo(tenant, p) {
  const { from, to } = span(p, "-5m");
  const limit = intParam(p, "limit", 1, 250, 20);
  const total = tenant.baseBps / 8 * (to - from) / 1000;
  const list = (keys) => keys.slice(0, limit).map(([key, share, err]) => ({ key, bytes: total * share, error: total * err, share }));
  return { tenant_id: tenant.id, from_ms: from, to_ms: to,
           countries: list([["DE", 0.41, 0], ["US", 0.22, 0], ["NL", 0.12, 0], ["ZZ", 0.05, 0]]),
           asns: list([["3320", 0.3, 0.004], ["15169", 0.18, 0.002], ["13335", 0.09, 0.001], ["0", 0.05, 0]]) };
}

const kLevelRank = { low: 0, medium: 1, high: 2, critical: 3 };

function incidentList(who, p, tenantFilter) {
  const now = Date.now();
  let rows = incidents.filter((inc) => who.admin || inc.tenant_id === who.tenant_id);
  if (tenantFilter !== undefined) rows = rows.filter((inc) => inc.tenant_id === tenantFilter);
  if (p.state) {
    if (!["open", "closed"].includes(p.state)) throw badParameter("state: expected open or closed");
    rows = rows.filter((inc) => inc.state === p.state);
  }
  if (p.type) rows = rows.filter((inc) => inc.type === p.type);
  if (p.severity) {
    if (!(p.severity in kLevelRank)) throw badParameter("severity: expected low, medium, high or critical");
    rows = rows.filter((inc) => kLevelRank[inc.severity_level] >= kLevelRank[p.severity]);
  }
  if (p.since) {
    const since = parseTime("since", p.since, now);
    rows = rows.filter((inc) => (inc.end_ms ?? now) >= since);
  }
  if (p.until) {
    const until = parseTime("until", p.until, now);
    rows = rows.filter((inc) => inc.start_ms <= until);
  }
  const limit = intParam(p, "limit", 1, 1000, 100);
  const offset = intParam(p, "offset", 0, 1000000, 0);
  rows.sort((a, b) => b.start_ms - a.start_ms);
  return { total: rows.length, limit, offset, incidents: rows.slice(offset, offset + limit).map(summaryOf) };
}

function health(who) {
  const base = { status: "degraded", version: "0.1.0-fixture", now_ms: Date.now() };
  if (!who.admin) return base;
  return { ...base, uptime_s: Math.round((Date.now() - t0) / 1000) + 600,
    ingest: { datagrams_per_s: 53.7, records_per_s: 473.8, records_total: 45685, malformed_total: 3,
              kernel_drops_total: 0, bus_dropped_records_total: 0, rejected_records_total: 0,
              unknown_exporters: 1, exporters: 4 },
    analysis: { running: true, lag_s: 0.1, utilisation: 0.02, workers: 1, desired_workers: 1, open_incidents: 3 },
    store: { enabled: true, backend: "sqlite", up: true, queue_depth: 0, spool_pending: 0, dropped_total: 0 },
    alerts: { sinks: 0, spool_pending: 0, dropped_total: 0 },
    problems: ["exporter 127.0.0.99 sends records but belongs to no tenant"] };
}

const kPaging = ["limit", "offset"];
const kIncidentFilters = ["state", "type", "severity", "since", "until", ...kPaging];

/// The answer to an /api/v1 request, or throws HttpError.
function api(who, segments, url) {
  const [first, tid, sub, iid, ...rest] = segments;
  if (rest.length) throw notFound();
  if (first === "me" && segments.length === 1) return (params(url, []), { ...who });
  if (first === "health" && segments.length === 1) return (params(url, []), health(who));
  if (first === "exporters" && segments.length === 1) {
    params(url, []);
    return { exporters: exporters.filter((e) => who.admin || e.tenant_id === who.tenant_id) };
  }
  if (first === "incidents" && segments.length === 1) {
    const p = params(url, [...kIncidentFilters, "tenant"]);
    let tenantFilter;
    if (p.tenant !== undefined) tenantFilter = visibleTenant(who, p.tenant).id;
    delete p.tenant;
    return incidentList(who, p, tenantFilter);
  }
  if (first !== "tenants") throw notFound();
  if (tid === undefined) {
    params(url, []);
    return { tenants: tenants.filter((t) => who.admin || t.id === who.tenant_id).map(tenantObject) };
  }
  const tenant = visibleTenant(who, tid);
  if (sub === undefined) return (params(url, []), tenantObject(tenant));
  if (iid !== undefined && sub !== "incidents") throw notFound();
  switch (sub) {
    case "exporters":
      params(url, []);
      return { exporters: exporters.filter((e) => e.tenant_id === tenant.id) };
    case "traffic": return traffic(tenant, params(url, ["from", "to", "step", "by"]));
    case "top": return top(tenant, params(url, ["kind", "from", "to", "limit"]));
    case "geo": return geo(tenant, params(url, ["from", "to", "limit"]));
    case "sampling":
      params(url, []);
      return { tenant_id: tenant.id, target: tenant.sampling.target, probability: tenant.sampling.probability,
               arrival_rate: 473.8, kept_rate: 473.8 * tenant.sampling.probability, arrivals_total: 45685,
               kept_total: 45685, surges_total: 0,
               exporters: exporters.filter((e) => e.tenant_id === tenant.id)
                 .map((e) => ({ address: e.address, rate: e.sampling.rate, known: e.sampling.known })) };
    case "incidents": {
      if (iid === undefined) return incidentList(who, params(url, kIncidentFilters), tenant.id);
      params(url, []);
      const inc = incidents.find((i) => i.tenant_id === tenant.id && i.id === iid);
      if (!inc) throw notFound();
      return inc;
    }
    default: throw notFound();
  }
}

function send(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store", ...headers });
  res.end(text);
}

function sendError(res, err) {
  const headers = err.status === 401 ? { "WWW-Authenticate": 'Bearer realm="fathom"' } : {};
  send(res, err.status, { error: { status: err.status, code: err.code, message: err.message } }, headers);
}

async function serveStatic(res, pathname) {
  const name = pathname === "/" ? "index.html" : decodeURIComponent(pathname.slice(1));
  const type = kContentTypes[path.extname(name)];
  if (!type || name.includes("/") || name.startsWith(".")) {
    res.writeHead(404, { "Content-Type": "text/plain" });
    res.end("not found\n");
    return;
  }
  try {
    const body = await fs.readFile(path.join(webDir, name));
    res.writeHead(200, { "Content-Type": type, "Cache-Control": "no-cache" });
    res.end(body);
  } catch {
    res.writeHead(404, { "Content-Type": "text/plain" });
    res.end("not found\n");
  }
}

function handle(req, res) {
  const url = new URL(req.url, "http://fixture");
  if (!url.pathname.startsWith("/api/")) {
    if (req.method !== "GET" && req.method !== "HEAD") return sendError(res, new HttpError(405, "method_not_allowed", "GET only"));
    return serveStatic(res, url.pathname);
  }
  try {
    if (!url.pathname.startsWith("/api/v1/")) throw notFound();
    const segments = url.pathname.slice("/api/v1/".length).split("/").filter(Boolean).map(decodeURIComponent);
    if (req.method !== "GET") throw new HttpError(405, "method_not_allowed", "the API answers GET only");
    if (segments.length === 1 && segments[0] === "openapi.yaml") {
      res.writeHead(200, { "Content-Type": "application/yaml" });
      res.end("openapi: 3.0.3\ninfo: {title: Fathom fixture, version: 0.1.0}\npaths: {}\n");
      return;
    }
    const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? "");
    const who = auth && kTokens[auth[1]];
    if (!who) throw new HttpError(401, "unauthorized", auth ? "unknown token" : "no bearer token");
    send(res, 200, api(who, segments, url));
  } catch (err) {
    if (err instanceof HttpError) sendError(res, err);
    else sendError(res, new HttpError(500, "internal", String(err?.stack ?? err)));
  }
}

/// Starts the fixture server on 127.0.0.1:`port` (0: a free one). Resolves to
/// {url, adminToken, tenantToken, close()}.
export function startFixtureServer({ port = 0 } = {}) {
  const server = http.createServer(handle);
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      const { port: actual } = server.address();
      resolve({ url: `http://127.0.0.1:${actual}/`, adminToken: kAdminToken, tenantToken: kTenantToken,
                close: () => new Promise((done) => { server.closeAllConnections(); server.close(done); }) });
    });
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const fixture = await startFixtureServer({ port: Number(process.argv[2] ?? 8090) });
  console.log(`fixture: ${fixture.url}#token=${fixture.adminToken}  (tenant 1: #token=${fixture.tenantToken})`);
}
