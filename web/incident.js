// Incident view (#/tenant/<id>/incident/<incident>): what, who, when, severity over time,
// evidence with intervals, the autoencoder's explanation, top peers and ports, raw flows.

import { list } from "./api.js";
import { html, patch } from "./html.js";
import * as f from "./format.js";
import { timeChart } from "./chart.js";
import { errorBox, isAborted, notice } from "./view.js";

function evidenceTable(evidence) {
  if (!evidence.length) return notice("The incident carries no evidence values.");
  return html`<div class="table-wrap"><table>
    <caption>Evidence: the measured value with its 95% interval against the detection's threshold and the usual value</caption>
    <thead><tr><th scope="col">Measure</th><th scope="col" class="num">Value [95% interval]</th>
      <th scope="col" class="num">Threshold</th><th scope="col" class="num">Usual</th></tr></thead>
    <tbody>${evidence.map((e) => html`<tr><th scope="row" class="mono">${e.name}</th>
      <td class="num">${f.interval(e.value, e.ci_low, e.ci_high, "")}</td>
      <td class="num">${f.withUnit(e.threshold, "")}</td>
      <td class="num">${f.withUnit(e.usual, "")}</td></tr>`)}</tbody></table></div>`;
}

function explanationSection(explanation) {
  if (!explanation) {
    return notice("No model explanation: this incident comes from a rule, not from the autoencoder.");
  }
  const features = list(explanation.features);
  const rows = features.map((feature) => {
    const top = Math.max(Math.abs(feature.value ?? 0), Math.abs(feature.usual ?? 0)) || 1;
    const ratio = feature.usual ? `${f.plain(feature.value / feature.usual)}× usual` : "usually 0";
    // SVG, not style="width:..": the server's Content-Security-Policy (style-src 'self') refuses
    // inline styles, while SVG's geometry attributes are not styles.
    const width = (v) => Math.max(0.5, Math.abs(v ?? 0) / top * 100).toFixed(1);
    return html`<tr><th scope="row" class="mono">${feature.name}</th>
      <td class="num">${f.withUnit(feature.value, "")}</td><td class="num">${f.withUnit(feature.usual, "")}</td>
      <td class="bars" aria-hidden="true"><svg class="bar-pair" viewBox="0 0 100 18" preserveAspectRatio="none">
        <rect class="bar-value" x="0" y="2" height="6" rx="1" width="${width(feature.value)}"></rect>
        <rect class="bar-usual" x="0" y="11" height="6" rx="1" width="${width(feature.usual)}"></rect></svg></td>
      <td>${ratio}</td></tr>`;
  });
  return html`<p id="explanation-score">Reconstruction score <strong>${f.plain(explanation.score)}</strong>
      against the threshold ${f.plain(explanation.threshold)}: the host's behaviour is far from what the model learnt for it.
      The features it reconstructed worst, the worst first:</p>
    ${features.length ? html`<div class="table-wrap"><table class="explanation">
      <caption>Feature values of the host against its usual values</caption>
      <thead><tr><th scope="col">Feature</th><th scope="col" class="num">Value</th><th scope="col" class="num">Usual</th>
        <th scope="col">Comparison <span class="legend-inline"><span class="bar-key bar-value"></span>value
          <span class="bar-key bar-usual"></span>usual</span></th><th scope="col">Ratio</th></tr></thead>
      <tbody>${rows}</tbody></table></div>` : notice("The model named no feature.")}`;
}

function weightTable(title, items) {
  items = list(items);
  if (!items.length) return html`<h3>${title}</h3>${notice("None recorded.")}`;
  return html`<table class="compact"><caption>${title}</caption>
    <thead><tr><th scope="col">Key</th><th scope="col" class="num">Weight</th></tr></thead>
    <tbody>${items.map((item) => html`<tr><td class="mono">${item.key}</td>
      <td class="num">${f.withUnit(item.weight, "")}</td></tr>`)}</tbody></table>`;
}

function flowsSection(flows) {
  if (flows === null || flows === undefined) {
    return html`<p class="message empty" id="flows-none">Raw flows are not kept: this Fathom has no store (store.enabled: false), so there are none to show.</p>`;
  }
  const rows = list(flows).slice(0, 200);
  if (!rows.length) {
    return html`<p class="message empty" id="flows-none">No raw sampled flow was kept for this incident (analyze.incidents.flows is 0, or none of the subject's flows was sampled after the detection).</p>`;
  }
  // The API's field order is alphabetical: show them in reading order, unknown ones last.
  const order = ["time_ms", "src", "src_port", "dst", "dst_port", "proto", "packets", "bytes", "tcp_flags",
                 "direction", "sampling_rate", "exporter"];
  const seen = [...new Set(rows.flatMap((row) => Object.keys(row ?? {})))];
  const columns = [...order.filter((c) => seen.includes(c)), ...seen.filter((c) => !order.includes(c))];
  return html`<div class="table-wrap"><table class="compact"><caption>Raw sampled flows (${rows.length})</caption>
    <thead><tr>${columns.map((c) => html`<th scope="col">${c}</th>`)}</tr></thead>
    <tbody>${rows.map((row) => html`<tr>${columns.map((c) => {
      const value = row?.[c];
      return html`<td class="mono">${c.endsWith("_ms") ? f.time(value) : typeof value === "object" ? JSON.stringify(value) : value}</td>`;
    })}</tr>`)}</tbody></table></div>`;
}

function severityChart(inc) {
  const history = list(inc.history).filter((h) => Number.isFinite(h.last_seen_ms));
  if (!history.length) return notice("No severity history.");
  const to = inc.end_ms ?? Math.max(inc.last_seen_ms ?? 0, ...history.map((h) => h.last_seen_ms));
  const from = Math.min(inc.start_ms ?? to, ...history.map((h) => h.last_seen_ms));
  const span = Math.max(to - from, 60e3);
  const chart = timeChart({
    label: `Severity of the incident over time, 0 to 100`,
    from: from - span * 0.02, to: from + span * 1.02, stepMs: Infinity, unit: "", yMax: 100,
    series: [{ key: "severity", name: "severity", band: false,
               points: history.map((h) => ({ t: h.last_seen_ms, value: h.severity })) }],
  });
  return html`<figure class="chart-figure small">${chart.markup}<figcaption><p class="chart-summary">${chart.summary}</p></figcaption></figure>
    <div class="table-wrap"><table class="compact"><caption>History</caption>
      <thead><tr><th scope="col">Version</th><th scope="col">Event</th><th scope="col">State</th>
        <th scope="col">Severity</th><th scope="col">Last seen</th></tr></thead>
      <tbody>${history.map((h) => html`<tr><td>${h.version}</td><td>${h.event}</td><td>${h.state}</td>
        <td><span class="badge level-${h.severity_level}">${h.severity_level} ${f.plain(h.severity)}</span></td>
        <td>${f.time(h.last_seen_ms)}</td></tr>`)}</tbody></table></div>`;
}

function render(tenantId, tenant, inc) {
  const tenantName = tenant?.name || `tenant ${tenantId}`;
  return html`<p class="crumbs"><a href="#/">Overview</a> › <a href="#/tenant/${encodeURIComponent(tenantId)}">${tenantName}</a> › incident</p>
    <h1 tabindex="-1" id="incident-title"><span class="badge level-${inc.severity_level}">${inc.severity_level}</span>
      ${f.words(inc.type)}${inc.detail ? ` (${inc.detail})` : ""} – <span class="mono">${inc.subject}</span></h1>
    <p class="summary-line" id="incident-summary">${inc.summary}</p>
    <dl class="stats">
      <div class="stat"><dt>Tenant</dt><dd>${tenantName}</dd></div>
      <div class="stat"><dt>Subject</dt><dd class="mono">${inc.subject}</dd></div>
      <div class="stat"><dt>State</dt><dd>${inc.state}</dd></div>
      <div class="stat"><dt>Severity</dt><dd>${f.plain(inc.severity)} (peak ${f.plain(inc.peak_severity)})</dd></div>
      <div class="stat"><dt>Start</dt><dd>${f.time(inc.start_ms)}</dd></div>
      <div class="stat"><dt>Last seen</dt><dd>${f.time(inc.last_seen_ms)}</dd></div>
      <div class="stat"><dt>End</dt><dd>${inc.end_ms ? f.time(inc.end_ms) : "open"}</dd></div>
      <div class="stat"><dt>Detected</dt><dd>${f.time(inc.detected_ms)}</dd></div>
      <div class="stat"><dt>Detections</dt><dd>${f.count(inc.detections)}</dd></div>
      <div class="stat"><dt>Id</dt><dd class="mono">${inc.id}</dd></div>
    </dl>
    <section aria-labelledby="sev-title"><h2 id="sev-title">Severity over time</h2>${severityChart(inc)}</section>
    <section aria-labelledby="ev-title"><h2 id="ev-title">Evidence</h2>${evidenceTable(list(inc.evidence))}</section>
    <section aria-labelledby="ex-title" id="explanation"><h2 id="ex-title">Explanation</h2>${explanationSection(inc.explanation)}</section>
    <section aria-labelledby="peers-title"><h2 id="peers-title">Top peers and ports</h2>
      <div class="columns"><div>${weightTable("Peers", inc.top_peers)}</div><div>${weightTable("Ports", inc.top_ports)}</div></div></section>
    <section aria-labelledby="flows-title"><h2 id="flows-title">Raw sampled flows</h2>${flowsSection(inc.flows)}</section>`;
}

/// Mounts the view of incident `params.incident` of tenant `params.tenant` into `root`.
export function mount(root, ctx, params) {
  const { tenant: tenantId, incident: incidentId } = params;
  root.innerHTML = html`<h1 tabindex="-1" id="incident-title">Incident</h1><p class="muted">Loading…</p>`.toString();
  let gone = false;
  const base = `tenants/${encodeURIComponent(tenantId)}`;
  ctx.every(async () => {
    if (gone) return;
    try {
      const [tenant, inc] = await Promise.all([
        ctx.get(base).catch((err) => (err.status === 404 ? Promise.reject(err) : null)),
        ctx.get(`${base}/incidents/${encodeURIComponent(incidentId)}`),
      ]);
      if (!ctx.active) return;
      document.title = `${f.words(inc.type)} ${inc.subject} – Fathom`;
      patch(root, render(tenantId, tenant, inc));
    } catch (err) {
      if (isAborted(err)) return;
      if (err.status === 404) {
        gone = true;
        patch(root, html`<p class="crumbs"><a href="#/">Overview</a></p><h1 tabindex="-1" id="incident-title">Incident</h1>
          <div class="message error not-found" role="alert">Incident ${incidentId} of tenant ${tenantId} was not found: it does not exist or this token may not see it.</div>`);
        return;
      }
      patch(root, html`<p class="crumbs"><a href="#/">Overview</a> › <a href="#/tenant/${encodeURIComponent(tenantId)}">tenant ${tenantId}</a></p>
        <h1 tabindex="-1" id="incident-title">Incident</h1>${errorBox("Could not load the incident.", err)}`);
    }
  });
  return "Incident";
}
