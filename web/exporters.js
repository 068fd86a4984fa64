// Exporters view (#/exporters): each exporter's status, rates, sampling, templates, errors.

import { list } from "./api.js";
import { html } from "./html.js";
import * as f from "./format.js";
import { loadInto, notice } from "./view.js";

function errorsCell(e) {
  const reasons = Object.entries(e.malformed_by_reason ?? {}).filter(([, n]) => n > 0);
  const total = (e.malformed_total ?? 0) + (e.parked_total ?? 0) + (e.rejected_records_total ?? 0);
  return html`<span class="${total ? "warn-text" : ""}">malformed ${f.count(e.malformed_total)}</span>${
    reasons.length ? html` <span class="muted">(${reasons.map(([reason, n], idx) =>
      html`${idx ? ", " : ""}${f.words(reason)} ${f.count(n)}`)})</span>` : ""}<br>
    parked ${f.count(e.parked_total)}, rejected ${f.count(e.rejected_records_total)}`;
}

function samplingCell(sampling) {
  if (!sampling) return "–";
  const rate = sampling.known ? html`1 in ${f.count(sampling.rate)}` : html`<span class="warn-text">unknown</span>`;
  return html`${rate}${sampling.records_unknown_total
    ? html`<br><span class="muted">${f.count(sampling.records_unknown_total)} records at unknown rate</span>` : ""}`;
}

function render(data, names) {
  const exporters = list(data.exporters);
  if (!exporters.length) return notice("No exporter has been seen yet.");
  return html`<div class="table-wrap"><table>
    <caption>${exporters.length} exporter${exporters.length > 1 ? "s" : ""}; rates are null for silent exporters (known only from the store)</caption>
    <thead><tr><th scope="col">Exporter</th><th scope="col">Tenant</th><th scope="col">Status</th>
      <th scope="col">Last seen</th><th scope="col" class="num">Packets/s</th><th scope="col" class="num">Records/s</th>
      <th scope="col" class="num">Totals</th><th scope="col">Sampling</th><th scope="col">Templates</th>
      <th scope="col">Errors</th></tr></thead>
    <tbody>${exporters.map((e) => html`<tr>
      <th scope="row"><span class="mono">${e.address}</span><br><span class="muted">${e.protocol}</span></th>
      <td>${e.tenant_id !== null && e.tenant_id !== undefined
        ? html`<a href="#/tenant/${encodeURIComponent(e.tenant_id)}" data-key="exp-tenant-${e.address}">${names.get(e.tenant_id) ?? `tenant ${e.tenant_id}`}</a>` : "none"}</td>
      <td><span class="badge status-${e.status}">${e.status}</span>${e.live ? "" : html` <span class="muted">not live</span>`}</td>
      <td class="nowrap">${f.time(e.last_seen_ms)}<br><span class="muted">first ${f.time(e.first_seen_ms)}</span></td>
      <td class="num">${f.plain(e.packets_per_s)}</td>
      <td class="num">${f.plain(e.records_per_s)}</td>
      <td class="num">${f.count(e.packets_total)} pkts<br>${f.count(e.records_total)} rec<br>${f.withUnit(e.bytes_total, "B")}</td>
      <td>${samplingCell(e.sampling)}</td>
      <td>${e.templates ? html`${f.count(e.templates.active)} active<br><span class="muted">+${f.count(e.templates.added_total)} / −${f.count(e.templates.withdrawn_total)}</span>` : "–"}</td>
      <td>${errorsCell(e)}</td></tr>`)}</tbody></table></div>`;
}

/// Mounts the exporters view into `root`.
export function mount(root, ctx) {
  root.innerHTML = html`<p class="crumbs"><a href="#/">Overview</a> › exporters</p>
    <h1 tabindex="-1">Exporters</h1>
    <section aria-label="Exporters"><div id="exporters"><p class="muted">Loading…</p></div></section>`.toString();
  const el = root.querySelector("#exporters");
  ctx.every(() => loadInto(el, "Could not load the exporters.", async () => {
    const exportersAnswer = await ctx.get("exporters");
    // Tenant names are a nicety: without them the table shows ids.
    const tenants = await ctx.get("tenants").catch(() => ({ tenants: [] }));
    return { exportersAnswer, names: new Map(list(tenants.tenants).map((t) => [t.id, t.name])) };
  }, ({ exportersAnswer, names }) => render(exportersAnswer, names)));
  return "Exporters";
}
