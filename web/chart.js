// Hand-written SVG time charts: one line per series with its 95% interval drawn as a filled
// band between ci_low and ci_high, gaps where the API has no point, a local-time axis, a y axis
// in human units, and an optional lane of incident bars on the same time axis.
// Output is markup built from numbers only; labels from the API go through `html`.

import { html, raw } from "./html.js";
import { prefixFor, plain, time } from "./format.js";

const kWidth = 1100;
const kPlotHeight = 240;
const kMargin = { left: 78, right: 16, top: 12 };
const kAxisHeight = 26;
const kLaneHeight = 14;

export const kSeriesColours = {
  total: "#2563eb",
  inbound: "#2563eb", outbound: "#d97706", internal: "#059669", transit: "#7c3aed",
  unknown: "#6b7280",
  tcp: "#2563eb", udp: "#d97706", icmp: "#059669", other: "#6b7280",
  severity: "#b91c1c",
};
const kFallbackColours = ["#0891b2", "#db2777", "#65a30d", "#9333ea"];

export const kLevelColours = { low: "#65a30d", medium: "#ca8a04", high: "#ea580c",
                               critical: "#b91c1c" };

/// The colour of series `key` (the `index`-th of its chart).
export function seriesColour(key, index) {
  return kSeriesColours[key] ?? kFallbackColours[index % kFallbackColours.length];
}

function niceStep(rough) {
  if (!(rough > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(rough));
  const unit = rough / power;
  return (unit <= 1 ? 1 : unit <= 2 ? 2 : unit <= 2.5 ? 2.5 : unit <= 5 ? 5 : 10) * power;
}

const kTimeSteps = [10e3, 30e3, 60e3, 120e3, 300e3, 600e3, 900e3, 1800e3, 3600e3, 7200e3,
                    10800e3, 21600e3, 43200e3, 86400e3];

function pad(number) {
  return String(number).padStart(2, "0");
}

/// Tick times between `from` and `to` on round local times, at most about 8 of them.
function timeTicks(from, to) {
  const span = Math.max(1, to - from);
  const step = kTimeSteps.find((s) => span / s <= 8) ?? Math.ceil(span / 8 / 86400e3) * 86400e3;
  const offset = -new Date(from).getTimezoneOffset() * 60e3;  // round in local time
  const ticks = [];
  for (let t = Math.ceil((from + offset) / step) * step - offset; t <= to; t += step) ticks.push(t);
  return { ticks, step };
}

function tickLabel(t, step, previous) {
  const d = new Date(t);
  let text = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  if (step < 60e3) text += `:${pad(d.getSeconds())}`;
  const newDay = previous === null || new Date(previous).getDate() !== d.getDate();
  if (step >= 3600e3 && newDay) text = `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${text}`;
  return text;
}

/// Splits points (sorted by t) into runs without a gap longer than `gapMs`.
function segments(points, gapMs) {
  const runs = [];
  let run = [];
  for (const point of points) {
    if (run.length && point.t - run[run.length - 1].t > gapMs) {
      runs.push(run);
      run = [];
    }
    run.push(point);
  }
  if (run.length) runs.push(run);
  return runs;
}

function fmt(number) {
  return Number(number.toFixed(1));
}

/// Greedy lanes for overlapping bars: returns each bar's lane index.
function assignLanes(bars, maxLanes) {
  const laneEnds = [];
  return bars.map((bar) => {
    let lane = laneEnds.findIndex((end) => end < bar.x0 - 2);
    if (lane === -1) lane = laneEnds.length < maxLanes ? laneEnds.length : maxLanes - 1;
    laneEnds[lane] = Math.max(laneEnds[lane] ?? -Infinity, bar.x1);
    return lane;
  });
}

/// Draws a chart. `spec`:
///   label      what the chart shows (aria-label)
///   from, to   the time span in Unix ms
///   stepMs     the series' step; a longer distance between points is a gap
///   unit       the y unit ("b/s"); "" for a plain number
///   yMax       a fixed top of the y axis (optional)
///   series     [{key, name, colour, band: bool, points: [{t, value, low, high}]}]
///   incidents  [{href, label, start, end, level}] drawn as bars under the plot (optional)
/// Returns {markup, summary}: the SVG, and a sentence per series for readers who do not
/// see it.
export function timeChart(spec) {
  const { from, to, unit = "", series = [], incidents = [] } = spec;
  const gapMs = (spec.stepMs ?? 10e3) * 1.5;
  const laneBars = incidents.length ? Math.min(3, incidents.length) : 0;
  const plotRight = kWidth - kMargin.right;
  const plotBottom = kMargin.top + kPlotHeight;
  const laneTop = plotBottom + 6;
  const axisTop = laneTop + laneBars * (kLaneHeight + 3) + (laneBars ? 2 : 0);
  const height = axisTop + kAxisHeight;
  const x = (t) => kMargin.left + ((t - from) / Math.max(1, to - from)) * (plotRight - kMargin.left);

  let top = 0;
  for (const s of series) {
    for (const p of s.points) top = Math.max(top, s.band ? (p.high ?? p.value) : p.value);
  }
  const yStep = spec.yMax ? niceStep(spec.yMax / 4) : niceStep((top || 1) / 4);
  const yMax = spec.yMax ?? Math.max(yStep, Math.ceil((top || 1) / yStep) * yStep);
  const y = (v) => plotBottom - (Math.min(Math.max(v, 0), yMax) / yMax) * kPlotHeight;
  const { factor, prefix } = prefixFor(yMax);

  const parts = [];
  // Grid and y axis.
  for (let v = 0; v <= yMax + yStep / 1000; v += yStep) {
    const yy = fmt(y(v));
    parts.push(`<line class="grid" x1="${kMargin.left}" x2="${plotRight}" y1="${yy}" y2="${yy}"/>`);
    parts.push(`<text class="tick" x="${kMargin.left - 6}" y="${yy + 4}" text-anchor="end">` +
               `${v === 0 ? "0" : `${plain(v / factor)}${unit || prefix ? ` ${prefix}${unit}` : ""}`}</text>`);
  }
  // Time axis.
  const { ticks, step } = timeTicks(from, to);
  let previous = null;
  for (const t of ticks) {
    const xx = fmt(x(t));
    parts.push(`<line class="grid grid-time" x1="${xx}" x2="${xx}" y1="${kMargin.top}" ` +
               `y2="${plotBottom}"/>`);
    parts.push(`<text class="tick" x="${xx}" y="${axisTop + 16}" text-anchor="middle">` +
               `${tickLabel(t, step, previous)}</text>`);
    previous = t;
  }
  if (laneBars) {
    parts.push(`<text class="lane-label" x="${kMargin.left - 6}" y="${laneTop + 11}" ` +
               `text-anchor="end">incidents</text>`);
  }
  parts.push(`<line class="axis" x1="${kMargin.left}" x2="${plotRight}" y1="${plotBottom}" ` +
             `y2="${plotBottom}"/>`);

  // Series: bands first so every line stays on top.
  const bands = [];
  const lines = [];
  series.forEach((s, index) => {
    const colour = s.colour ?? seriesColour(s.key, index);
    const points = s.points.filter((p) => p.t >= from && p.t <= to && Number.isFinite(p.value));
    for (const run of segments(points, gapMs)) {
      if (s.band) {
        const upper = run.map((p) => `${fmt(x(p.t))},${fmt(y(p.high ?? p.value))}`);
        const lower = run.slice().reverse().map((p) => `${fmt(x(p.t))},${fmt(y(p.low ?? p.value))}`);
        const d = run.length === 1
          ? `M${fmt(x(run[0].t) - 2)},${fmt(y(run[0].high ?? run[0].value))}h4` +
            `V${fmt(y(run[0].low ?? run[0].value))}h-4Z`
          : `M${upper.join("L")}L${lower.join("L")}Z`;
        bands.push(`<path class="band" data-series="${index}" fill="${colour}" d="${d}"/>`);
      }
      if (run.length === 1) {
        lines.push(`<circle class="dot" data-series="${index}" fill="${colour}" ` +
                   `cx="${fmt(x(run[0].t))}" cy="${fmt(y(run[0].value))}" r="2.5"/>`);
      } else {
        const d = `M${run.map((p) => `${fmt(x(p.t))},${fmt(y(p.value))}`).join("L")}`;
        lines.push(`<path class="line" data-series="${index}" stroke="${colour}" d="${d}"/>`);
      }
    }
  });

  // Incidents: bars on the same time axis, each a link to the incident.
  const bars = incidents
    .map((inc) => ({ ...inc, x0: x(Math.max(inc.start, from)), x1: x(Math.min(inc.end ?? to, to)) }))
    .filter((bar) => bar.x1 >= kMargin.left && bar.x0 <= plotRight)
    .sort((a, b) => a.x0 - b.x0);
  const lanes = assignLanes(bars, Math.max(1, laneBars));
  const barMarkup = bars.map((bar, idx) => {
    const width = Math.max(4, bar.x1 - bar.x0);
    const yy = laneTop + lanes[idx] * (kLaneHeight + 3);
    return html`<a href="${bar.href}" class="incident-bar" aria-label="${bar.label}"><title>${bar.label}</title><rect x="${fmt(bar.x0)}" y="${yy}" width="${fmt(width)}" height="${kLaneHeight}" rx="2" fill="${kLevelColours[bar.level] ?? "#6b7280"}"/></a>`;
  });

  const markup = html`<svg class="chart" viewBox="0 0 ${kWidth} ${height}" role="img" aria-label="${spec.label}" preserveAspectRatio="xMidYMid meet">${raw(parts.join(""))}<g class="bands">${raw(bands.join(""))}</g><g class="lines">${raw(lines.join(""))}</g><g class="incidents">${barMarkup}</g></svg>`;
  return { markup, summary: summarise(series, unit, pointsInSpan(series, from, to), gapMs) };
}

function pointsInSpan(series, from, to) {
  return series.map((s) => s.points.filter((p) => p.t >= from && p.t <= to &&
                                                   Number.isFinite(p.value)));
}

function summarise(series, unit, inSpan, gapMs) {
  return series.map((s, index) => {
    const points = inSpan[index];
    const name = s.name ?? s.key;
    if (!points.length) return `${name}: no data in this span.`;
    const last = points[points.length - 1];
    const peak = points.reduce((best, p) => (p.value > best.value ? p : best), points[0]);
    const gaps = segments(points, gapMs).length - 1;
    const show = (p) => s.band ? withBounds(p, unit) : `${plain(p.value)}${unit ? ` ${unit}` : ""}`;
    return `${name}: latest ${show(last)} at ${time(last.t)}; peak ${show(peak)} at ` +
           `${time(peak.t)}; ${points.length} points${gaps ? `, ${gaps} gap${gaps > 1 ? "s" : ""}` : ""}.`;
  }).join(" ");
}

function withBounds(p, unit) {
  const { factor, prefix } = prefixFor(Math.max(p.value, p.high ?? 0));
  return `${plain(p.value / factor)} ${prefix}${unit} [${plain((p.low ?? p.value) / factor)}, ` +
         `${plain((p.high ?? p.value) / factor)}]`;
}
