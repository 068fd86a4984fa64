// Overview (#/): every tenant the token sees with its current traffic and open incidents,
// and, for an admin token, the ingest health.

import { list } from "./api.js";
import { html } from "./html.js";
import * as f from "./format.js";
import { loadInto, notice } from "./view.js";

const kLevels = ["critical", "high", "medium", "low"];

/// Open incidents by severity as small badges, the worst first.
export function severityBadges(open) {
  if (!open || !open.total) return html`<span class="muted">none</span>`;
  return html`<span class="badges">${kLevels.filter((level) => open[level] > 0).map((level) =>
    html`<span class="badge level-${level}">${open[level]} ${level}</span>`)}</span>`;
}

function tenantRows(tenants) {
  return tenants.map((t) => {
    const traffic = t.traffic;
    return html`<tr>
      <th scope="row"><a href="#/tenant/${encodeURIComponent(t.id)}" data-key="tenant-${t.id}">${t.name || `tenant ${t.id}`}</a>
        <span class="muted">#${t.id}</span></th>
      <td class="num">${traffic ? f.estimate(traffic.bps, "b/s") : "no window yet"}</td>
      <td class="num">${traffic ? f.estimate(traffic.pps, "pkt/s") : "–"}</td>
      <td class="num">${traffic ? f.estimate(traffic.fps, "flows/s") : "–"}</td>
      <td>${traffic ? html`<time datetime="${f.isoLocal(traffic.end_ms)}">${f.time(traffic.end_ms)}</time>
        <span class="muted">(${traffic.window_s} s)</span>` : "–"}</td>
      <td>${severityBadges(t.open_incidents)}</td>
      <td class="num">${t.exporters ?? "–"}</td>
      <td class="num">${t.sampling ? html`${t.sampling.target ? `${f.count(t.sampling.target)} rec/s` : "no limit"}
        <span class="muted">p=${f.plain(t.sampling.probability)}</span>` : "–"}</td>
    </tr>`;
  });
}

function renderTenants(data) {
  const tenants = list(data.tenants);
  if (!tenants.length) return notice("No tenant has sent traffic yet.");
  return html`<div class="table-wrap"><table>
    <caption>Tenants: traffic of the latest closed analysis window, with 95% intervals</caption>
    <thead><tr><th scope="col">Tenant</th><th scope="col" class="num">Bits/s</th>
      <th scope="col" class="num">Packets/s</th><th scope="col" class="num">TCP flows/s</th>
      <th scope="col">Window end</th><th scope="col">Open incidents</th>
      <th scope="col" class="num">Exporters</th><th scope="col" class="num">Sampling</th></tr></thead>
    <tbody>${tenantRows(tenants)}</tbody></table></div>`;
}

function stat(label, value, warn = false) {
  return html`<div class="stat${warn ? " warn" : ""}"><dt>${label}</dt><dd>${value}</dd></div>`;
}

function renderHealth(health, admin) {
  const status = html`<p class="status status-${health.status === "ok" ? "ok" : "degraded"}">
    Status: <strong>${health.status ?? "unknown"}</strong>
    <span class="muted">version ${health.version ?? "?"}${health.uptime_s !== undefined ? `, up ${f.duration(health.uptime_s)}` : ""}</span></p>`;
  if (admin && health.role === "api") return apiNodeHealth(status, health);
  if (!admin || !health.ingest) return status;
  const ingest = health.ingest;
  const analysis = health.analysis ?? {};
  const store = health.store ?? {};
  const drops = (ingest.kernel_drops_total ?? 0) + (ingest.bus_dropped_records_total ?? 0);
  const problems = list(health.problems);
  return html`${status}
    <dl class="stats">
      ${stat("Records/s", f.plain(ingest.records_per_s))}
      ${stat("Datagrams/s", f.plain(ingest.datagrams_per_s))}
      ${stat("Records total", f.count(ingest.records_total))}
      ${stat("Kernel drops", f.count(ingest.kernel_drops_total), ingest.kernel_drops_total > 0)}
      ${stat("Bus drops", f.count(ingest.bus_dropped_records_total), ingest.bus_dropped_records_total > 0)}
      ${stat("Malformed", f.count(ingest.malformed_total), ingest.malformed_total > 0)}
      ${stat("Rejected records", f.count(ingest.rejected_records_total), ingest.rejected_records_total > 0)}
      ${stat("Exporters", html`<a href="#/exporters">${f.count(ingest.exporters)}</a>`)}
      ${stat("Unknown exporters", f.count(ingest.unknown_exporters), ingest.unknown_exporters > 0)}
      ${stat("Analysis lag", analysis.lag_s !== undefined ? `${f.plain(analysis.lag_s)} s` : "–")}
      ${stat("Workers", analysis.workers !== undefined ? `${analysis.workers} of ${analysis.desired_workers ?? analysis.workers}` : "–")}
      ${stat("Store", store.enabled === false ? "disabled" : store.up ? `${store.backend ?? ""} up` : "down", store.enabled !== false && !store.up)}
    </dl>
    <h3>Problems</h3>
    ${problems.length
      ? html`<ul class="problems">${problems.map((p) => html`<li>${p}</li>`)}</ul>`
      : html`<p class="muted">None.</p>`}
    ${drops ? html`<p class="muted">Drops total ${f.count(drops)} since start.</p>` : ""}`;
}

/// `fathom api` runs no collector or analysis: only its store, and where the rest is.
function apiNodeHealth(status, health) {
  const store = health.store ?? {};
  const problems = list(health.problems);
  return html`${status}
    <p class="muted">This is an API node (<code>fathom api</code>): it serves what the analyzers
      stored. Ingest and analysis health are on the collectors' and analyzers' /metrics.</p>
    <dl class="stats">
      ${stat("Store", store.up ? `${store.backend ?? ""} up` : "down", !store.up)}
    </dl>
    <h3>Problems</h3>
    ${problems.length
      ? html`<ul class="problems">${problems.map((p) => html`<li>${p}</li>`)}</ul>`
      : html`<p class="muted">None.</p>`}`;
}

/// Mounts the overview into `root`.
export function mount(root, ctx) {
  root.innerHTML = html`<h1 tabindex="-1">Overview</h1>
    <section aria-labelledby="tenants-title"><h2 id="tenants-title">Tenants</h2>
      <div id="tenants"><p class="muted">Loading…</p></div></section>
    <section aria-labelledby="health-title"><h2 id="health-title">Ingest health</h2>
      <div id="health"><p class="muted">Loading…</p></div></section>`.toString();
  const tenantsEl = root.querySelector("#tenants");
  const healthEl = root.querySelector("#health");
  ctx.every(() => Promise.all([
    loadInto(tenantsEl, "Could not load the tenants.", () => ctx.get("tenants"), renderTenants),
    loadInto(healthEl, "Could not load the health.", () => ctx.get("health"),
             (health) => renderHealth(health, ctx.me.admin)),
  ]));
  return "Overview";
}
