// A stand-in for `fathom run`'s HTTP side, for the dashboard's browser tests and for working on
// the dashboard without a build. It behaves as src/api/rest_*.cpp does (the C++ is the truth;
// docs/api.md and docs/openapi.yaml describe it, and tests/web/fixture-contract.test.mjs holds
// this file's answers to docs/openapi.yaml):
//
// - every method but GET and HEAD answers 405 with `Allow: GET, HEAD`, on any path; HEAD answers
//   as GET without the body;
// - paths outside /api/v1 are the dashboard's files (web/*.html .js .css .svg at /<name>,
//   index.html at /) with the C++'s page headers (CSP, nosniff, ...); a missing one is a JSON 404;
// - /api/v1/openapi.yaml is docs/openapi.yaml, read from the repository, without a token;
// - every other /api/v1 path needs a token (admin `fixture-admin-token`; `fixture-tenant1-token`
//   of tenant 1, to which tenant 2 is a 404; 401 without one), then routes, checks its query
//   parameters (unknown or repeated: 400) and parses times, integers and steps like
//   src/api/params.cpp.
//
// The data are laid around the time the server starts: three tenants (acme and globex,
// configured and in the store; tenant 3 known only from live traffic, no name), four incidents
// (an `anomaly` with the autoencoder's evidence, an exfiltration whose summary has markup in it,
// a SYN flood, a scan of tenant 2), seven exporters (active, stale, silent, one the store does not
// know yet, one live and one silent of no tenant), live 10-s windows for the last 15 minutes and per-minute rollups
// for the last day, with gaps. The store always answers. No dependencies.
//
//   node tests/web/fixture-server.mjs [port]     serves until stopped (default 8090), prints the URLs

import http from "node:http";
import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const repoDir = path.resolve(here, "../..");
const webDir = path.join(repoDir, "web");
const openapiFile = path.join(repoDir, "docs/openapi.yaml");

export const kAdminToken = "fixture-admin-token";
export const kTenantToken = "fixture-tenant1-token";
const kTokens = {
  [kAdminToken]: { name: "fixture-admin", admin: true, tenant_id: null },
  [kTenantToken]: { name: "acme-noc", admin: false, tenant_id: 1 },
};
const sees = (who, tenantId) => who.admin || who.tenant_id === tenantId;

// src/api/web_assets.cpp content_type_of; src/api/rest_api.cpp add_page_headers.
const kContentTypes = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                        ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml",
                        ".yaml": "application/yaml; charset=utf-8" };
const kPageHeaders = {
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
  "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; " +
                             "script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
};
const kJson = "application/json; charset=utf-8";

// ---- fixture data, laid around the time the server starts -------------------------------

const t0 = Date.now();
const sec = 1e3;
const min = 60e3;
const hour = 3600e3;
const day = 86400e3;
const kLiveWindowMs = 10e3;   // RestApiOptions::live_window_ns
const kLiveWindows = 90;      // LiveBoard's capacity: 15 minutes of 10-s windows
const kZ95 = 1.959963984540054;
const processStart = t0 - 3 * hour;

function est(value, relHalfWidth) {
  return { value, ci_low: value * (1 - relHalfWidth), ci_high: value * (1 + relHalfWidth) };
}

// Configured tenants have a name; `stored`: the store's tenants table knows it since
// `storedSince`; `liveSince`: its first live window. `sampler`: under the adaptive sampler
// (a target_ingest_rate), else null.
const tenants = [
  { id: 1, name: "acme", stored: true, storedSince: t0 - day, liveSince: processStart, baseBps: 3.1e8,
    sampler: null },
  { id: 2, name: "globex", stored: true, storedSince: t0 - day, liveSince: processStart, baseBps: 4.2e7,
    sampler: { target: 2000, probability: 0.5, arrival_rate: 3990.2, kept_rate: 1994.7,
               arrivals_total: 216000, kept_total: 108400, surges_total: 1 } },
  // In no config and not yet in the store: known only from live traffic (name "", first seen null).
  { id: 3, name: "", stored: false, storedSince: null, liveSince: t0 - 2 * min, baseBps: 6.0e6, sampler: null },
];
const tenantById = (id) => tenants.find((t) => t.id === id);

/// The C++'s anomaly explanation (rest_incidents.cpp): only for `anomaly` whose first evidence
/// is `anomaly_score`; the features are the rest of the evidence.
function explanationOf(inc) {
  const ev = inc.evidence;
  if (inc.type !== "anomaly" || !ev.length || ev[0].name !== "anomaly_score") return null;
  return { score: ev[0].value, threshold: ev[0].threshold,
           features: ev.slice(1).map((e) => ({ name: e.name, value: e.value, usual: e.usual })) };
}

/// An evidence entry as detect/ stores it: a plain value has its interval collapsed on it and
/// null where no threshold applies.
function plain(name, value, threshold = null, usual = null) {
  return { name, value, ci_low: value, ci_high: value, threshold, usual };
}

const incidents = [
  {
    // detect/anomaly_detector.cpp: the score first (threshold, usual 0), then the features with
    // the largest reconstruction errors, no threshold, against the host's usual values; no peers.
    id: "3f9a0c2e71b4d805", version: 3, tenant_id: 1, type: "anomaly", detail: "connections",
    subject: "10.1.0.23", state: "open", severity: 72.5, severity_level: "high", peak_severity: 80,
    start_ms: t0 - 9 * min, last_seen_ms: t0 - 20e3, end_ms: null, detected_ms: t0 - 8 * min,
    detections: 6,
    summary: "unusual behaviour of 10.1.0.23 (connections, score 7.2): distinct_remote_ports 40 (usual 3), " +
             "syn_only_ratio 0.92 (usual 0.18), bytes_out_per_s 52k (usual 110k)",
    evidence: [
      plain("anomaly_score", 7.2, 5, 0),
      plain("distinct_remote_ports", 40, null, 3),
      plain("syn_only_ratio", 0.92, null, 0.18),
      plain("bytes_out_per_s", 5.2e4, null, 1.1e5),
    ],
    top_peers: [], top_ports: [],
    history: [
      { version: 1, event: "open", state: "open", severity: 55, severity_level: "medium", last_seen_ms: t0 - 8 * min },
      { version: 2, event: "update", state: "open", severity: 80, severity_level: "high", last_seen_ms: t0 - 4 * min },
      { version: 3, event: "update", state: "open", severity: 72.5, severity_level: "high", last_seen_ms: t0 - 20e3 },
    ],
  },
  {
    id: "0f35e00aa3fc1f0d", version: 2, tenant_id: 1, type: "exfiltration", detail: "",
    subject: "10.1.0.77", state: "closed", severity: 91.3, severity_level: "critical", peak_severity: 100,
    start_ms: t0 - 40 * min, last_seen_ms: t0 - 31 * min, end_ms: t0 - 30 * min, detected_ms: t0 - 39 * min,
    detections: 14,
    // An API string with markup in it: the dashboard must show it as text.
    summary: "exfiltration from 10.1.0.77: 25 MB/s to 185.58.145.180 <img src=x onerror=\"window.__xss=1\">",
    evidence: [{ name: "bytes_out_external_per_s", value: 2.5e7, ci_low: 2.4e7, ci_high: 2.6e7, threshold: 1e6, usual: 0 },
               plain("top_peer_share", 0.97, 0.8)],
    // Incidents' ports are bare numbers (detect/rules.cpp), unlike /top's `tcp/443`.
    top_peers: [{ key: "185.58.145.180", weight: 2.55e8 }], top_ports: [{ key: "443", weight: 2.5e8 }],
    history: [
      { version: 1, event: "open", state: "open", severity: 91.3, severity_level: "critical", last_seen_ms: t0 - 39 * min },
      { version: 2, event: "close", state: "closed", severity: 91.3, severity_level: "critical", last_seen_ms: t0 - 31 * min },
    ],
  },
  {
    id: "5e0d1c4b9a7f2368", version: 1, tenant_id: 1, type: "syn_flood", detail: "",
    subject: "10.1.0.80", state: "open", severity: 41, severity_level: "medium", peak_severity: 41,
    start_ms: t0 - 3 * min, last_seen_ms: t0 - 10e3, end_ms: null, detected_ms: t0 - 3 * min,
    detections: 3, summary: "SYN flood against 10.1.0.80:443, 12 kpkt/s of SYN from 1 830 sources",
    evidence: [{ name: "packets_per_s", value: 1.2e4, ci_low: 1.1e4, ci_high: 1.3e4, threshold: 5e3, usual: null },
               { name: "bytes_in_per_s", value: 7.7e5, ci_low: 7.0e5, ci_high: 8.4e5, threshold: null, usual: null }],
    top_peers: [{ key: "203.0.113.9", weight: 4.1e4 }], top_ports: [{ key: "443", weight: 9e5 }],
    history: [{ version: 1, event: "open", state: "open", severity: 41, severity_level: "medium", last_seen_ms: t0 - 10e3 }],
  },
  {
    id: "91b3e07c2d4a6f15", version: 1, tenant_id: 2, type: "horizontal_scan", detail: "",
    subject: "192.0.2.44", state: "open", severity: 30, severity_level: "low", peak_severity: 30,
    start_ms: t0 - 6 * min, last_seen_ms: t0 - 30e3, end_ms: null, detected_ms: t0 - 5 * min,
    detections: 2, summary: "horizontal scan from 192.0.2.44: 310 hosts on tcp/23",
    evidence: [plain("targets_observed", 310, 100)], top_peers: [], top_ports: [{ key: "23", weight: 310 }],
    history: [{ version: 1, event: "open", state: "open", severity: 30, severity_level: "low", last_seen_ms: t0 - 30e3 }],
  },
];

// Exporters as the decoders know them (live: seen by this process) and as the store keeps
// them; /exporters joins the two as rest_system.cpp does. tenant 0: no tenant. `agoMs`: last
// packet that long before the request (an active exporter stays active); `lastSeen`: fixed.
const liveExporters = [
  { address: "127.0.0.11", tenant: 1, protocol: "ipfix", agoMs: 1000, packets_per_s: 12.5, records_per_s: 410,
    packets: 1116, records: 17841, bytes: 1523000, rate: 100, unknown: 0,
    templates: { active: 3, added_total: 3, withdrawn_total: 0 }, parked: 0, reasons: {}, rejected: 0 },
  { address: "127.0.0.12", tenant: 1, protocol: "netflow_v9", lastSeen: t0 - 95e3, packets_per_s: 0, records_per_s: 0,
    packets: 530, records: 9120, bytes: 712000, rate: 0, unknown: 120,
    templates: { active: 1, added_total: 2, withdrawn_total: 1 }, parked: 14,
    reasons: { truncated: 2, bad_set_length: 1 }, rejected: 0 },
  { address: "127.0.0.21", tenant: 2, protocol: "netflow_v5", agoMs: 2000, packets_per_s: 133, records_per_s: 3990,
    packets: 7400, records: 216000, bytes: 9.9e6, rate: 1000, unknown: 0,
    templates: { active: 0, added_total: 0, withdrawn_total: 0 }, parked: 0, reasons: {}, rejected: 0 },
  { address: "127.0.0.31", tenant: 3, protocol: "sflow_v5", agoMs: 3000, packets_per_s: 2, records_per_s: 16,
    packets: 240, records: 1920, bytes: 310000, rate: 512, unknown: 0,
    templates: { active: 0, added_total: 0, withdrawn_total: 0 }, parked: 0, reasons: {}, rejected: 0 },
  { address: "127.0.0.99", tenant: 0, protocol: "netflow_v5", agoMs: 4000, packets_per_s: 1, records_per_s: 30,
    packets: 600, records: 18000, bytes: 180000, rate: 0, unknown: 18000,
    templates: { active: 0, added_total: 0, withdrawn_total: 0 }, parked: 0, reasons: {}, rejected: 18000 },
];
// The store's exporters table (127.0.0.31 is too new to be in it; 127.0.0.98, of no tenant, is silent).
const storedExporters = [
  { address: "127.0.0.11", tenant: 1, protocol: "ipfix", first_seen: t0 - day, last_seen: t0 - min,
    packets: 90000, records: 1.4e6, malformed: 0 },
  { address: "127.0.0.12", tenant: 1, protocol: "netflow_v9", first_seen: t0 - day, last_seen: t0 - 2 * min,
    packets: 40000, records: 7.0e5, malformed: 3 },
  { address: "127.0.0.21", tenant: 2, protocol: "netflow_v5", first_seen: t0 - 12 * hour, last_seen: t0 - min,
    packets: 60000, records: 1.8e6, malformed: 0 },
  { address: "127.0.0.22", tenant: 2, protocol: "ipfix", first_seen: t0 - day, last_seen: t0 - 5 * hour,
    packets: 88000, records: 1.3e6, malformed: 0 },
  { address: "127.0.0.98", tenant: 0, protocol: "netflow_v9", first_seen: t0 - 20 * hour, last_seen: t0 - 19 * hour,
    packets: 50, records: 900, malformed: 2 },
  { address: "127.0.0.99", tenant: 0, protocol: "netflow_v5", first_seen: t0 - 2 * hour, last_seen: t0 - min,
    packets: 800, records: 24000, malformed: 0 },
];
const kKernelDrops = 120;  // since the rate sample: a `problems` sentence

// ---- traffic: live 10-s windows and per-minute rollups -----------------------------------

const kSplits = {
  total: [["total", 1]],
  direction: [["unknown", 0.01], ["inbound", 0.57], ["outbound", 0.3], ["internal", 0.1], ["transit", 0.02]],
  protocol: [["tcp", 0.7], ["udp", 0.25], ["icmp", 0.04], ["other", 0.01]],
};

function trafficAt(tenant, t) {
  const wave = 1 + 0.25 * Math.sin(t / (23 * min)) + 0.08 * Math.sin(t / (97e3));
  const exfil = incidents[1];
  const bump = tenant.id === 1 && t >= exfil.start_ms && t <= exfil.end_ms ? 2.0e8 : 0;
  return tenant.baseBps * wave + bump;
}

/// Bytes, packets and flows of a slice over `seconds` from `t`, with intervals of relative
/// half-width `rel` (packets and flows wider).
function slice(tenant, t, share, seconds, rel) {
  const bytes = trafficAt(tenant, t) * share / 8 * seconds;
  return { bytes: est(bytes, rel), packets: est(bytes / 620, rel), flows: est(bytes / 620 / 45, rel * 1.6) };
}

/// The tenant's live windows (LiveBoard::Point) kept at `now`: the latest 90 closed 10-s
/// windows since its first, without the windows of a gap.
function liveWindows(tenant, now) {
  const end = Math.floor(now / kLiveWindowMs) * kLiveWindowMs;
  const out = [];
  for (let k = kLiveWindows; k >= 1; k--) {
    const start = end - k * kLiveWindowMs;
    if (start < tenant.liveSince || Math.floor(start / kLiveWindowMs) % 29 === 3) continue;
    out.push({ start, end: start + kLiveWindowMs });
  }
  return out;
}

/// The tenant's stored minutes (rollups) with from <= minute < to: closed minutes since the
/// store first saw it, without the minutes of a gap.
function storedMinutes(tenant, from, to, now) {
  const out = [];
  if (!tenant.stored) return out;
  const first = Math.max(Math.ceil(from / min) * min, Math.ceil(tenant.storedSince / min) * min);
  for (let m = first; m < to && m + min <= now; m += min) {
    if (Math.floor(m / min) % 17 !== 5) out.push(m);
  }
  return out;
}

/// A sum of estimates as rest_traffic.cpp's Sum: values add, variances (read from each
/// interval as a normal half-width) add; a single term keeps its interval.
class Sum {
  constructor() { Object.assign(this, { value: 0, variance: 0, lo: 0, hi: 0, terms: 0 }); }
  add(e) {
    this.value += e.value;
    const half = Math.max(0, (e.ci_high - e.ci_low) / 2) / kZ95;
    this.variance += half * half;
    this.lo = e.ci_low;
    this.hi = e.ci_high;
    this.terms += 1;
  }
  rate(scale, seconds) {
    if (seconds <= 0) return null;
    let { lo, hi } = this;
    if (this.terms !== 1) {
      const sd = Math.sqrt(this.variance);
      lo = Math.max(0, this.value - kZ95 * sd);
      hi = this.value + kZ95 * sd;
    }
    return { value: this.value * scale / seconds, ci_low: lo * scale / seconds, ci_high: hi * scale / seconds };
  }
}

function latestWindow(tenant, now) {
  const windows = liveWindows(tenant, now);
  return windows.length ? windows[windows.length - 1] : null;
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
const notFound = (message) => new HttpError(404, "not_found", message);
const noSuchTenant = (id) => notFound(`no such tenant: ${id}`);

// src/api/params.cpp, in milliseconds.
const kMaxSeconds = 253402300799;  // 9999-12-31T23:59:59Z
const kUnitMs = { s: sec, m: min, h: hour, d: day };
const kTenYearsS = 10 * 366 * 86400;

/// A decimal integer in [lo, hi]: digits only, at most 19; null otherwise.
function parseUint(text, lo, hi) {
  if (!/^[0-9]{1,19}$/.test(text)) return null;
  const v = BigInt(text);
  return v < BigInt(lo) || v > BigInt(hi) ? null : Number(v);
}

/// `<n><unit>`, unit s, m, h or d, n from 1, at most 10 years: milliseconds or null.
function parseDuration(text) {
  if (text.length < 2 || !(text.at(-1) in kUnitMs)) return null;
  const unitMs = kUnitMs[text.at(-1)];
  const n = parseUint(text.slice(0, -1), 1, Math.floor(kTenYearsS / (unitMs / sec)));
  return n === null ? null : n * unitMs;
}

function leap(y) {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

/// RFC 3339 with a zone; `t`, `z` and a space for `T` allowed (§5.6). Milliseconds or null.
function parseRfc3339(s) {
  const m = /^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))$/.exec(s);
  if (!m) return null;
  const [year, month, dayOf, hh, mm] = m.slice(1, 6).map(Number);
  let ss = Number(m[6]);
  const days = [31, leap(year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  if (year < 1970 || month < 1 || month > 12 || dayOf < 1 || dayOf > days[month - 1] || hh > 23 || mm > 59 || ss > 60) {
    return null;
  }
  if (ss === 60) ss = 59;  // a leap second: the clock has no such second
  if (m[7] !== undefined && m[7].length > 18) return null;
  let offset = 0;
  if (m[9]) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return null;
    offset = (m[9] === "+" ? 1 : -1) * (oh * 3600 + om * 60);
  }
  const seconds = Date.UTC(year, month - 1, dayOf, hh, mm, ss) / 1000 - offset;
  if (seconds < 0 || seconds > kMaxSeconds) return null;
  return seconds * 1000 + (m[7] ? Number(`0.${m[7]}`) * 1000 : 0);
}

/// A time parameter: RFC 3339, Unix ms, a duration before now (-15m) or `now`; null otherwise.
function parseTime(text, now) {
  if (text === "now") return now;
  if (text.startsWith("-")) {
    const d = parseDuration(text.slice(1));
    return d === null || d > now ? null : now - d;
  }
  if (/^[0-9]+$/.test(text)) return parseUint(text, 0, kMaxSeconds * 1000);
  return parseRfc3339(text);
}

/// The query parameters, checked as Params::unknown does: sorted by name (a multimap), the
/// first unknown one, or one given twice, is a 400. Returns {name: first value}.
function params(url, allowed) {
  const pairs = [...url.searchParams].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const out = {};
  let previous = null;
  for (const [name, value] of pairs) {
    if (!allowed.includes(name)) {
      throw badParameter(`unknown parameter '${name.slice(0, 64)}'` +
                         (allowed.length ? ` (this endpoint takes ${allowed.join(", ")})` : " (this endpoint takes none)"));
    }
    if (name === previous) throw badParameter(`parameter '${name}' is given more than once`);
    previous = name;
    out[name] = value;
  }
  return out;
}

function timeParam(p, name, now, fallback) {
  if (p[name] === undefined) return fallback;
  const t = parseTime(p[name], now);
  if (t === null) {
    throw badParameter(`${name}: not a time (RFC 3339 such as 2026-12-07T08:00:00Z, Unix milliseconds, a ` +
                       "duration before now such as -15m, or now)");
  }
  return t;
}

function uintParam(p, name, lo, hi, fallback) {
  if (p[name] === undefined) return fallback;
  const v = parseUint(p[name], lo, hi);
  if (v === null) throw badParameter(`${name}: an integer from ${lo} to ${hi}`);
  return v;
}

const toMs = Math.trunc;

/// Whether the tenant exists: configured, in the store, or live.
function tenantExists(id, now) {
  const tenant = tenantById(id);
  return Boolean(tenant && (tenant.name || tenant.stored || latestWindow(tenant, now)));
}

function tenantObject(tenant, now) {
  const latest = latestWindow(tenant, now);
  const open = { low: 0, medium: 0, high: 0, critical: 0, total: 0 };
  for (const inc of incidents) {
    if (inc.tenant_id === tenant.id && inc.state === "open") {
      open[inc.severity_level] += 1;
      open.total += 1;
    }
  }
  let traffic = null;
  if (latest) {
    const s = slice(tenant, latest.start, 1, kLiveWindowMs / sec, 0.035);
    const rate = (e, scale) => ({ value: e.value * scale / 10, ci_low: e.ci_low * scale / 10, ci_high: e.ci_high * scale / 10 });
    traffic = { window_s: kLiveWindowMs / sec, end_ms: latest.end, bps: rate(s.bytes, 8), pps: rate(s.packets, 1),
                fps: rate(s.flows, 1) };
  }
  const storedLast = tenant.stored ? Math.floor((now - min) / min) * min : null;
  return {
    id: tenant.id, name: tenant.name,
    first_seen_ms: tenant.stored ? tenant.storedSince : null,
    last_seen_ms: latest && latest.end > (storedLast ?? 0) ? latest.end : storedLast,
    traffic,
    open_incidents: open,
    exporters: liveExporters.filter((e) => e.tenant === tenant.id).length,
    sampling: tenant.sampler ? { target: tenant.sampler.target, probability: tenant.sampler.probability }
                             : { target: 0, probability: 1 },
  };
}

function exporterList(who, tenantId, now) {
  const out = new Map();
  const visible = (t) => (tenantId !== undefined ? t === tenantId : sees(who, t));
  for (const e of liveExporters) {
    if (!visible(e.tenant)) continue;
    const lastSeen = e.agoMs !== undefined ? now - e.agoMs : e.lastSeen;
    out.set(e.address, {
      address: e.address, tenant_id: e.tenant || null, protocol: e.protocol, live: true,
      first_seen_ms: null, last_seen_ms: lastSeen, status: lastSeen >= now - min ? "active" : "stale",
      packets_per_s: e.packets_per_s, records_per_s: e.records_per_s,
      packets_total: e.packets, records_total: e.records, bytes_total: e.bytes,
      sampling: { known: e.rate !== 0, rate: e.rate || null, records_unknown_total: e.unknown },
      templates: e.templates, parked_total: e.parked,
      malformed_total: Object.values(e.reasons).reduce((a, b) => a + b, 0),
      malformed_by_reason: Object.fromEntries(Object.entries(e.reasons).filter(([, n]) => n > 0)),
      rejected_records_total: e.rejected,
    });
  }
  for (const x of storedExporters) {
    if (!visible(x.tenant)) continue;
    const live = out.get(x.address);
    if (live) {
      live.first_seen_ms = x.first_seen;
      continue;
    }
    out.set(x.address, {
      address: x.address, tenant_id: x.tenant || null, protocol: x.protocol, live: false,
      first_seen_ms: x.first_seen, last_seen_ms: x.last_seen, status: "silent",
      packets_per_s: null, records_per_s: null, packets_total: x.packets, records_total: x.records,
      bytes_total: null, sampling: { known: false, rate: null, records_unknown_total: null },
      templates: null, parked_total: null, malformed_total: x.malformed, malformed_by_reason: null,
      rejected_records_total: null,
    });
  }
  return { exporters: [...out.keys()].sort().map((address) => out.get(address)) };
}

function sampling(tenant) {
  const s = tenant.sampler;
  const ingested = liveExporters.filter((e) => e.tenant === tenant.id).reduce((a, e) => a + e.records, 0);
  return {
    tenant_id: tenant.id, target: s?.target ?? 0, probability: s?.probability ?? 1,
    // Not under the sampler: no rates, and every record ingested is kept.
    arrival_rate: s?.arrival_rate ?? null, kept_rate: s?.kept_rate ?? null,
    arrivals_total: s?.arrivals_total ?? ingested, kept_total: s?.kept_total ?? ingested,
    surges_total: s?.surges_total ?? 0,
    exporters: liveExporters.filter((e) => e.tenant === tenant.id)
      .map((e) => ({ address: e.address, known: e.rate !== 0, rate: e.rate || null })),
  };
}

function traffic(tenant, p, now) {
  const from = timeParam(p, "from", now, now - hour);
  const to = timeParam(p, "to", now, now);
  if (from >= to) throw badParameter("from must be before to");
  const by = p.by ?? "total";
  if (!kSplits[by]) throw badParameter("by: total, direction or protocol");
  let step;
  if (p.step !== undefined) {
    step = parseDuration(p.step);
    if (step === null || (step !== kLiveWindowMs && step % min !== 0)) {
      throw badParameter(`step: ${kLiveWindowMs / sec}s (live windows) or a whole number of minutes such as 1m, 5m, 1h`);
    }
  } else if (to - from <= 15 * min) {
    step = kLiveWindowMs;
  } else {
    step = Math.max(Math.ceil((to - from) / 360 / min), 1) * min;
  }
  if (Math.trunc((to - from) / step) > 2000) {
    throw badParameter("step: too fine for the span (more than 2000 points); use a larger step");
  }
  const live = step === kLiveWindowMs && step % min !== 0;
  const buckets = kSplits[by].map(() => new Map());
  const addTo = (k, t, s, seconds) => {
    let b = buckets[k].get(t);
    if (!b) buckets[k].set(t, (b = { bytes: new Sum(), packets: new Sum(), flows: new Sum(), seconds: 0 }));
    b.bytes.add(s.bytes);
    b.packets.add(s.packets);
    b.flows.add(s.flows);
    b.seconds += seconds;
  };
  if (live) {
    // Every window starting in [from, to), whatever the span: only the last 15 minutes are kept.
    for (const w of liveWindows(tenant, now)) {
      if (w.start < from || w.start >= to) continue;
      kSplits[by].forEach(([, share], k) => addTo(k, w.start - (w.start % step), slice(tenant, w.start, share, 10, 0.04 / Math.sqrt(share)), 10));
    }
  } else {
    for (const m of storedMinutes(tenant, from - (from % step), to, now)) {
      kSplits[by].forEach(([, share], k) => addTo(k, m - (m % step), slice(tenant, m, share, 60, 0.015 / Math.sqrt(share)), 60));
    }
  }
  const series = kSplits[by].map(([key], k) => ({
    key,
    points: [...buckets[k].entries()].sort((a, b) => a[0] - b[0]).map(([t, b]) => ({
      t_ms: t, bps: b.bytes.rate(8, b.seconds), pps: b.packets.rate(1, b.seconds), fps: b.flows.rate(1, b.seconds),
    })),
  }));
  return { tenant_id: tenant.id, from_ms: toMs(from), to_ms: toMs(to), step_s: step / sec, by, confidence: 0.95,
           source: live ? "live" : "rollups", series };
}

// Heavy hitters: key, share of the tenant's bytes, Space-Saving error as a fraction of it.
const kTopLists = {
  // Long IPv6 keys, as real traffic has: the three tables must still fit side by side.
  top_sources: [["10.1.0.77", 0.27, 0.017], ["2001:db8:1:0:ffff:ffff:ffff:ff07", 0.135, 0.03], ["10.1.0.80", 0.09, 0.05],
                ["10.1.0.5", 0.0675, 0.07], ["10.1.0.9", 0.054, 0.08]],
  top_destinations: [["185.58.145.180", 0.27, 0.017], ["2a01:4f8:3c95:a026:74f3:6eb6:1:2", 0.135, 0.03],
                     ["10.1.0.80", 0.09, 0.05], ["1.1.1.1", 0.0675, 0.07], ["8.8.8.8", 0.054, 0.08]],
  // rest_traffic.cpp port_name: tcp/<port>, udp/<port>, else <IP protocol number>/<port>.
  top_ports: [["tcp/443", 0.41, 0.01], ["udp/53", 0.12, 0.02], ["tcp/22", 0.06, 0.04], ["132/3868", 0.03, 0.05],
              ["udp/123", 0.02, 0.06]],
  top_countries: [["DE", 0.41, 0], ["US", 0.22, 0], ["NL", 0.12, 0], ["ZZ", 0.05, 0]],
  top_asns: [["3320", 0.3, 0.004], ["15169", 0.18, 0.002], ["13335", 0.09, 0.001], ["0", 0.05, 0]],
};

/// merged_tops: the lists over the stored minutes of [from, to) (from the start of the minute
/// holding `from`), or the latest live window when none is stored.
function mergedTops(tenant, p, now, names, maxLimit, defaultLimit) {
  const from = timeParam(p, "from", now, now - 5 * min);
  const to = timeParam(p, "to", now, now);
  const limit = uintParam(p, "limit", 1, maxLimit, defaultLimit);
  if (from >= to) throw badParameter("from must be before to");
  let source = "rollups";
  let totalBytes = 0;
  let seconds = 0;
  for (const m of storedMinutes(tenant, from - (from % min), to, now)) {
    totalBytes += trafficAt(tenant, m) / 8 * 60;
    seconds += 60;
  }
  if (seconds === 0) {
    source = "live";
    const latest = latestWindow(tenant, now);
    if (latest) {
      totalBytes = trafficAt(tenant, latest.start) / 8 * 10;
      seconds = 10;
    }
  }
  const lists = names.map((name) => (seconds === 0 ? [] : kTopLists[name].map(([key, share, err]) => {
    const bytes = totalBytes * share;
    const error = bytes * err;
    // As the C++: [bytes − error − 1.96·sd, bytes + 1.96·sd], sd a sampling error of 2%.
    const sd = bytes * 0.02;
    return { key, bytes, error, ci_low: Math.max(0, bytes - error - 1.96 * sd), ci_high: bytes + 1.96 * sd,
             share: totalBytes > 0 ? Math.min(1, bytes / totalBytes) : 0,
             bps: seconds > 0 ? bytes * 8 / seconds : 0 };
  }).sort((a, b) => (a.bytes !== b.bytes ? b.bytes - a.bytes : a.key < b.key ? -1 : 1)).slice(0, limit)));
  return { from, to, source, lists };
}

function top(tenant, p, now) {
  if (!["sources", "destinations", "ports"].includes(p.kind)) {
    throw badParameter("kind: sources, destinations or ports (required)");
  }
  const { from, to, source, lists } = mergedTops(tenant, p, now, [`top_${p.kind}`], 100, 10);
  return { tenant_id: tenant.id, kind: p.kind, from_ms: toMs(from), to_ms: toMs(to), source, items: lists[0] };
}

function geo(tenant, p, now) {
  const { from, to, source, lists } = mergedTops(tenant, p, now, ["top_countries", "top_asns"], 250, 20);
  return { tenant_id: tenant.id, from_ms: toMs(from), to_ms: toMs(to), source, countries: lists[0], asns: lists[1] };
}

const kSeverityFloor = { low: 0, medium: 40, high: 70, critical: 90 };
const kDetectionTypes = ["syn_flood", "udp_flood", "icmp_flood", "amplification", "horizontal_scan", "vertical_scan",
                         "brute_force", "exfiltration", "beaconing", "intel_contact", "anomaly"];

function summaryOf(inc) {
  const { evidence, top_peers, top_ports, history, ...rest } = inc;
  return rest;
}

/// rest_incidents.cpp incidents(): `pathTenant` for /tenants/{tenant}/incidents.
function incidentList(who, p, pathTenant, now) {
  const limit = uintParam(p, "limit", 1, 1000, 100);
  const offset = uintParam(p, "offset", 0, 1000000, 0);
  const since = timeParam(p, "since", now, 0);
  const until = timeParam(p, "until", now, Infinity);
  if (since >= until) throw badParameter("since must be before until");
  if (p.state !== undefined && !["open", "closed"].includes(p.state)) throw badParameter("state: open or closed");
  if (p.type !== undefined && !kDetectionTypes.includes(p.type)) {
    throw badParameter(`type: a detection type (${kDetectionTypes.join(", ")})`);
  }
  if (p.severity !== undefined && !(p.severity in kSeverityFloor)) {
    throw badParameter("severity: low, medium, high or critical");
  }
  let tenantId = pathTenant;
  if (tenantId === undefined && p.tenant !== undefined) {
    tenantId = uintParam(p, "tenant", 1, 4294967295, 0);
    // Another tenant's id, or one of no tenant: 404 (an empty list would say it exists).
    if (!sees(who, tenantId) || !tenantExists(tenantId, now)) throw noSuchTenant(tenantId);
  } else if (tenantId === undefined && !who.admin) {
    tenantId = who.tenant_id;
  }
  if (pathTenant !== undefined && !tenantExists(pathTenant, now)) throw noSuchTenant(pathTenant);
  const rows = incidents.filter((inc) => (tenantId === undefined || inc.tenant_id === tenantId) &&
    inc.last_seen_ms >= since && inc.start_ms < until &&
    (p.state === undefined || inc.state === p.state) && (p.type === undefined || inc.type === p.type) &&
    (p.severity === undefined || inc.severity >= kSeverityFloor[p.severity]))
    .sort((a, b) => (a.start_ms !== b.start_ms ? b.start_ms - a.start_ms : a.id < b.id ? -1 : 1));
  return { total: rows.length, limit, offset, incidents: rows.slice(offset, offset + limit).map(summaryOf) };
}

/// The sampled flows kept for an incident's subject: three for the anomaly, none for the rest
/// (as the C++ with a store: a list, maybe empty).
function flowsOf(inc) {
  if (inc.type !== "anomaly") return [];
  return [0, 1, 2].map((n) => ({
    time_ms: inc.start_ms + 20000 + n * 7000, exporter: "127.0.0.11", src: inc.subject,
    src_port: 50100 + n, dst: "198.51.100.7", dst_port: 8443 + n, proto: 6, packets: 2 + n,
    bytes: 120 * (2 + n), tcp_flags: 2, sampling_rate: 100, direction: "outbound" }));
}

function incident(tenantId, id) {
  if (!/^[0-9a-fA-F]{1,64}$/.test(id)) throw notFound("no such incident");
  const inc = incidents.find((i) => i.tenant_id === tenantId && i.id === id);
  if (!inc) throw notFound(`no such incident: ${id}`);
  return { ...summaryOf(inc), evidence: inc.evidence, top_peers: inc.top_peers, top_ports: inc.top_ports,
           explanation: explanationOf(inc), history: inc.history, flows: flowsOf(inc) };
}

function health(who, now) {
  const problems = [`the kernel dropped ${kKernelDrops} datagrams lately: receive buffers full ` +
                    "(see fathom_collect_kernel_drops_total)"];
  const base = { status: problems.length ? "degraded" : "ok", version: "0.1.0-fixture", now_ms: now,
                 role: "run" };
  if (!who.admin) return base;
  const sum = (field) => liveExporters.reduce((a, e) => a + field(e), 0);
  return { ...base, uptime_s: (now - processStart) / 1000,
    ingest: { datagrams_per_s: sum((e) => e.packets_per_s), records_per_s: sum((e) => e.records_per_s),
              records_total: sum((e) => e.records),
              malformed_total: sum((e) => Object.values(e.reasons).reduce((a, b) => a + b, 0)),
              kernel_drops_total: 4 * kKernelDrops, bus_dropped_records_total: 0,
              rejected_records_total: sum((e) => e.rejected), unknown_exporters: 1,
              exporters: liveExporters.length, receive_threads: 2 },
    analysis: { running: true, lag_s: 0.1, utilisation: 0.02, workers: 1, desired_workers: 1,
                open_incidents: incidents.filter((i) => i.state === "open").length, ai: true },
    store: { enabled: true, backend: "sqlite", up: true, queue_depth: 0, spool_pending: 0, dropped_total: 0 },
    alerts: { sinks: 0, spool_pending: 0, dropped_total: 0 },
    problems };
}

const kIncidentFilters = ["limit", "offset", "severity", "since", "state", "type", "until"];

/// RestApi::Impl::route: the answer to an authenticated /api/v1 request, or throws HttpError.
function route(who, parts, url, pathname) {
  const now = Date.now();
  const n = parts.length;
  const noRoute = () => notFound(`no such endpoint: ${pathname.slice(0, 200)} (docs/api.md lists them)`);
  if (n === 1 && parts[0] === "me") return (params(url, []), { name: who.name, admin: who.admin, tenant_id: who.tenant_id });
  if (n === 1 && parts[0] === "health") return (params(url, []), health(who, now));
  if (n === 1 && parts[0] === "exporters") return (params(url, []), exporterList(who, undefined, now));
  if (n === 1 && parts[0] === "incidents") return incidentList(who, params(url, [...kIncidentFilters.slice(0, 5), "tenant", ...kIncidentFilters.slice(5)]), undefined, now);
  if (n === 1 && parts[0] === "tenants") {
    params(url, []);
    return { tenants: tenants.filter((t) => sees(who, t.id) && tenantExists(t.id, now)).map((t) => tenantObject(t, now)) };
  }
  if (n < 2 || parts[0] !== "tenants") throw noRoute();
  const id = parseUint(parts[1], 1, 4294967295);
  if (id === null) throw badParameter("tenant: a tenant id (an integer from 1 to 4294967295) in the path");
  if (!sees(who, id)) throw noSuchTenant(id);
  const tenant = tenantById(id);
  const exists = () => {
    if (!tenantExists(id, now)) throw noSuchTenant(id);
    return tenant;
  };
  if (n === 2) return (params(url, []), tenantObject(exists(), now));
  const what = parts[2];
  if (n === 3 && what === "exporters") return (params(url, []), exists(), exporterList(who, id, now));
  if (n === 3 && what === "incidents") return incidentList(who, params(url, kIncidentFilters), id, now);
  if (n === 4 && what === "incidents") return (params(url, []), incident(id, parts[3]));
  if (n === 3 && what === "sampling") return (params(url, []), sampling(exists()));
  if (n === 3 && what === "traffic") return traffic(exists(), params(url, ["by", "from", "step", "to"]), now);
  if (n === 3 && what === "top") return top(exists(), params(url, ["from", "kind", "limit", "to"]), now);
  if (n === 3 && what === "geo") return geo(exists(), params(url, ["from", "limit", "to"]), now);
  throw noRoute();
}

function send(req, res, status, type, body, headers = {}) {
  res.writeHead(status, { "Content-Type": type, ...headers });
  res.end(req.method === "HEAD" ? undefined : body);
}

function sendJson(req, res, status, body, headers = {}) {
  send(req, res, status, kJson, `${JSON.stringify(body)}\n`, { "Cache-Control": "no-store", ...headers });
}

function sendError(req, res, err) {
  const headers = {};
  if (err.status === 401) headers["WWW-Authenticate"] = 'Bearer realm="fathom"';
  if (err.status === 405) headers.Allow = "GET, HEAD";
  sendJson(req, res, err.status, { error: { status: err.status, code: err.code, message: err.message } }, headers);
}

/// The Authorization header's token (scheme case-insensitive, spaces around it ignored), or null.
function bearer(header) {
  if (header.length <= 7 || header.slice(0, 7).toLowerCase() !== "bearer ") return null;
  const token = header.slice(7).replace(/^ +| +$/g, "");
  return token && token.length <= 4096 ? token : null;
}

async function serveStatic(req, res, pathname) {
  // The built-in copy of web/ (src/CMakeLists.txt): its .html .js .css .svg files at /<name>.
  const name = pathname === "/" ? "/index.html" : pathname;
  if (name.includes("..") || name.includes("\0")) return sendError(req, res, notFound("no such file"));
  const type = kContentTypes[path.extname(name)];
  let body = null;
  if (/^\/[^/]+$/.test(name) && type && path.extname(name) !== ".yaml") {
    body = await fs.readFile(path.join(webDir, name.slice(1))).catch(() => null);
  }
  if (body === null) return sendError(req, res, notFound(`no such file: ${name}`));
  send(req, res, 200, type, body, { "Cache-Control": "no-cache", ...kPageHeaders });
}

async function handle(req, res) {
  try {
    if (req.method !== "GET" && req.method !== "HEAD") {
      throw new HttpError(405, "method_not_allowed", "only GET and HEAD are served");
    }
    const url = new URL(req.url, "http://fixture");
    let pathname;
    try {
      pathname = decodeURIComponent(url.pathname);
    } catch {
      pathname = url.pathname;
    }
    if (pathname !== "/api/v1" && !pathname.startsWith("/api/v1/")) return await serveStatic(req, res, pathname);
    if (pathname === "/api/v1/openapi.yaml") {
      // Built in from docs/openapi.yaml; no token, no Cache-Control.
      return send(req, res, 200, kContentTypes[".yaml"], await fs.readFile(openapiFile));
    }
    const token = bearer(req.headers.authorization ?? "");
    const who = token && kTokens[token];
    if (!who) {
      throw new HttpError(401, "unauthorized", req.headers.authorization
        ? "the token is not valid" : "this endpoint needs an Authorization: Bearer <token> header");
    }
    const parts = pathname.slice("/api/v1".length).split("/").filter(Boolean);
    sendJson(req, res, 200, route(who, parts, url, pathname));
  } catch (err) {
    if (err instanceof HttpError) sendError(req, res, err);
    else sendError(req, res, new HttpError(500, "internal", `internal error: ${err?.message ?? err}`));
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
