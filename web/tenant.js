// Tenant view (#/tenant/<id>): traffic over time with 95% bands and the tenant's incidents on
// the same time axis, top talkers, geo. Refreshes every 5 s; the controls are plain buttons
// (aria-pressed) that keep their focus across refreshes.

import { list } from "./api.js";
import { html, patch } from "./html.js";
import * as f from "./format.js";
import { seriesColour, timeChart } from "./chart.js";
import { severityBadges } from "./overview.js";
import { errorBox, isAborted, loadInto, notice } from "./view.js";

const kSpans = [["15m", "15 min"], ["1h", "1 h"], ["6h", "6 h"], ["24h", "24 h"]];
const kSplits = [["total", "Total"], ["direction", "Direction"], ["protocol", "Protocol"]];
const kMetrics = [["bps", "Bits/s"], ["pps", "Packets/s"], ["fps", "TCP flows/s"]];

// Kept across visits so going to an incident and back keeps the reader's choice.
const state = { by: "total", metric: "bps", span: "15m" };

function toggleGroup(name, label, options) {
  return html`<div class="toggle" role="group" aria-label="${label}"><span class="toggle-label">${label}</span>${options.map(([value, text]) =>
    html`<button type="button" id="${name}-${value}" data-${name}="${value}" aria-pressed="${state[name] === value}">${text}</button>`)}</div>`;
}

function controls() {
  return html`${toggleGroup("span", "Span", kSpans)}${toggleGroup("by", "Split by", kSplits)}${toggleGroup("metric", "Metric", kMetrics)}`;
}

/// The incident's link.
export function incidentHref(tenantId, incidentId) {
  return `#/tenant/${encodeURIComponent(tenantId)}/incident/${encodeURIComponent(incidentId)}`;
}

function renderCurrent(tenant) {
  const traffic = tenant.traffic;
  return html`<dl class="stats">
    <div class="stat"><dt>Bits/s</dt><dd>${traffic ? f.estimate(traffic.bps, "b/s") : "no window yet"}</dd></div>
    <div class="stat"><dt>Packets/s</dt><dd>${traffic ? f.estimate(traffic.pps, "pkt/s") : "–"}</dd></div>
    <div class="stat"><dt>TCP flows/s</dt><dd>${traffic ? f.estimate(traffic.fps, "flows/s") : "–"}</dd></div>
    <div class="stat"><dt>Window end</dt><dd>${traffic ? f.time(traffic.end_ms) : "–"}</dd></div>
    <div class="stat"><dt>Open incidents</dt><dd>${severityBadges(tenant.open_incidents)}</dd></div>
    <div class="stat"><dt>Exporters</dt><dd>${tenant.exporters ?? "–"}</dd></div>
  </dl>`;
}

function renderChart(tenant, traffic, incidents) {
  const metric = state.metric;
  const unit = f.kMetricUnits[metric];
  const series = list(traffic.series).map((s, index) => ({
    key: s.key,
    name: s.key,
    colour: seriesColour(s.key, index),
    band: true,
    points: list(s.points).filter((p) => p && p[metric]).map((p) => ({
      t: p.t_ms, value: p[metric].value, low: p[metric].ci_low, high: p[metric].ci_high,
    })),
  }));
  const bars = incidents.map((inc) => ({
    href: incidentHref(tenant.id, inc.id),
    label: `${inc.severity_level} ${f.words(inc.type)} ${inc.subject}, ${f.time(inc.start_ms)} to ` +
           `${inc.end_ms ? f.time(inc.end_ms) : "now (open)"}`,
    start: inc.start_ms,
    end: inc.end_ms ?? traffic.to_ms,
    level: inc.severity_level,
  }));
  const label = `${f.kMetricNames[metric]} of ${tenant.name || `tenant ${tenant.id}`} by ` +
                `${traffic.by}, ${f.time(traffic.from_ms)} to ${f.time(traffic.to_ms)}, ` +
                `with 95% intervals`;
  const chart = timeChart({ label, from: traffic.from_ms, to: traffic.to_ms,
                            stepMs: (traffic.step_s ?? 10) * 1000, unit, series, incidents: bars });
  const legend = series.map((s) => {
    const last = s.points[s.points.length - 1];
    // An SVG fill, not style="background:..": the server's CSP refuses inline styles.
    return html`<li><svg class="swatch" viewBox="0 0 14 8" aria-hidden="true"><rect width="14" height="8" rx="2" fill="${s.colour}"></rect></svg>${s.name}
      <span class="muted">${last ? f.interval(last.value, last.low, last.high, unit) : "no data"}</span></li>`;
  });
  return html`<figure class="chart-figure">${chart.markup}
    <figcaption><ul class="legend">${legend}<li class="muted">band: 95% interval; step ${f.duration(traffic.step_s)}, from ${traffic.source ?? "?"}${bars.length ? "; bars under the plot: incidents" : ""}</li></ul>
    <p class="chart-summary">${chart.summary}</p></figcaption></figure>`;
}

function renderIncidents(tenantId, incidents, total) {
  if (!incidents.length) return notice("No incident in this span.");
  return html`<div class="table-wrap"><table>
    <caption>Incidents overlapping the span, newest first${total > incidents.length ? ` (${incidents.length} of ${total})` : ""}</caption>
    <thead><tr><th scope="col">Severity</th><th scope="col">Type</th><th scope="col">Subject</th>
      <th scope="col">State</th><th scope="col">Start</th><th scope="col">Last seen</th>
      <th scope="col">Summary</th></tr></thead>
    <tbody>${incidents.map((inc) => html`<tr>
      <td><span class="badge level-${inc.severity_level}">${inc.severity_level} ${f.plain(inc.severity)}</span></td>
      <td><a href="${incidentHref(tenantId, inc.id)}" data-key="incident-${inc.id}">${f.words(inc.type)}</a></td>
      <td class="mono">${inc.subject}</td><td>${inc.state}</td>
      <td>${f.time(inc.start_ms)}</td><td>${f.time(inc.last_seen_ms)}</td>
      <td class="summary">${inc.summary}</td></tr>`)}</tbody></table></div>`;
}

/// A top list (heavy hitters): bytes with their 95% interval (Space-Saving's bound joined with
/// the sampling error); [bytes - error, bytes] from an API that sends no interval.
function renderTop(title, items, { bps = true } = {}) {
  items = list(items);
  const unit = "B";
  if (!items.length) return html`<h3>${title}</h3>${notice("Nothing in this span.")}`;
  return html`<table class="compact"><caption>${title}</caption>
    <thead><tr><th scope="col">Key</th><th scope="col" class="num">Bytes [95%]</th>
      <th scope="col" class="num">Share</th>${bps ? html`<th scope="col" class="num">Bits/s</th>` : ""}</tr></thead>
    <tbody>${items.map((item) => html`<tr><td class="mono">${item.key}</td>
      <td class="num">${f.interval(item.bytes, item.ci_low ?? item.bytes - (item.error ?? 0), item.ci_high ?? item.bytes, unit)}</td>
      <td class="num">${f.percent(item.share)}</td>
      ${bps ? html`<td class="num">${f.withUnit(item.bps, "b/s")}</td>` : ""}</tr>`)}</tbody></table>`;
}

/// Mounts the view of tenant `params.tenant` into `root`.
export function mount(root, ctx, params) {
  const tenantId = params.tenant;
  root.innerHTML = html`<p class="crumbs"><a href="#/">Overview</a> › tenant ${tenantId}</p>
    <h1 tabindex="-1" id="tenant-title">Tenant ${tenantId}</h1>
    <div id="current"></div>
    <section aria-labelledby="traffic-title"><h2 id="traffic-title">Traffic</h2>
      <div class="controls" id="controls">${controls()}</div>
      <div id="chart"><p class="muted">Loading…</p></div></section>
    <section aria-labelledby="incidents-title"><h2 id="incidents-title">Incidents</h2>
      <div id="incidents"><p class="muted">Loading…</p></div></section>
    <section aria-labelledby="top-title"><h2 id="top-title">Top talkers</h2>
      <div class="columns" id="top"><p class="muted">Loading…</p></div></section>
    <section aria-labelledby="geo-title"><h2 id="geo-title">Geo (external side)</h2>
      <div class="columns" id="geo"><p class="muted">Loading…</p></div></section>`.toString();
  const el = (id) => root.querySelector(`#${id}`);
  let gone = false;
  let latest = 0;  // a click starts a load while an older one may still run: the newest wins

  async function refresh() {
    if (gone) return;
    const load = ++latest;
    const isCurrent = () => load === latest && ctx.active;
    const from = `-${state.span}`;
    const base = `tenants/${encodeURIComponent(tenantId)}`;
    let tenant;
    try {
      tenant = await ctx.get(base);
    } catch (err) {
      if (isAborted(err)) return;
      if (err.status === 404) {
        gone = true;
        patch(root, html`<p class="crumbs"><a href="#/">Overview</a></p><h1 tabindex="-1" id="tenant-title">Tenant ${tenantId}</h1>
          <div class="message error not-found" role="alert">Tenant ${tenantId} was not found: no tenant with this id is visible to this token.</div>`);
        return;
      }
      if (!isCurrent()) return;
      patch(el("current"), errorBox("Could not load the tenant.", err));
      tenant = null;  // the sections below may still load
    }
    if (!isCurrent()) return;
    if (tenant) {
      const name = tenant.name || `tenant ${tenantId}`;
      el("tenant-title").textContent = name;
      root.querySelector(".crumbs").lastChild.textContent = ` › ${name}`;
      document.title = `${name} – Fathom`;
      patch(el("current"), renderCurrent(tenant));
    } else {
      tenant = { id: tenantId, name: null };
    }

    const incidentsPromise = ctx.get(`${base}/incidents`, { since: from, limit: 100 });
    const chartDone = loadInto(el("chart"), "Could not load the traffic.", async () => {
      const traffic = await ctx.get(`${base}/traffic`, { from, by: state.by });
      let incidents = [];
      try {
        incidents = list((await incidentsPromise).incidents);
      } catch {
        // shown in the incident list below; the chart stays without bars
      }
      return { traffic, incidents };
    }, ({ traffic, incidents }) => renderChart(tenant, traffic, incidents), isCurrent);
    const incidentsDone = loadInto(el("incidents"), "Could not load the incidents.",
      () => incidentsPromise,
      (data) => renderIncidents(tenantId, list(data.incidents), data.total ?? 0), isCurrent);
    const topDone = loadInto(el("top"), "Could not load the top talkers.", () => Promise.all(
      ["sources", "destinations", "ports"].map((kind) => ctx.get(`${base}/top`, { kind, from, limit: 10 }))),
      ([sources, destinations, ports]) => html`<div>${renderTop("Sources", sources.items)}</div>
        <div>${renderTop("Destinations", destinations.items)}</div><div>${renderTop("Ports", ports.items)}</div>`,
      isCurrent);
    const geoDone = loadInto(el("geo"), "Could not load the geo data.",
      () => ctx.get(`${base}/geo`, { from, limit: 10 }),
      (geo) => html`<div>${renderTop("Countries", geo.countries, { bps: false })}</div>
        <div>${renderTop("Autonomous systems", list(geo.asns).map((a) => ({ ...a, key: `AS${a.key}` })), { bps: false })}</div>`,
      isCurrent);
    await Promise.all([chartDone, incidentsDone, topDone, geoDone]);
  }

  el("controls").addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    for (const name of ["span", "by", "metric"]) {
      if (button.dataset[name]) state[name] = button.dataset[name];
    }
    patch(el("controls"), controls());
    refresh();
  });
  ctx.every(refresh);
  return `Tenant ${tenantId}`;
}
