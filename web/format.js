// Numbers, units, estimates and times as the dashboard shows them. Times are in the
// browser's local zone, written ISO-like (2026-12-07 09:00:05).

const kPrefixes = [
  { factor: 1e12, prefix: "T" },
  { factor: 1e9, prefix: "G" },
  { factor: 1e6, prefix: "M" },
  { factor: 1e3, prefix: "k" },
  { factor: 1, prefix: "" },
];

/// Units of the traffic metrics of the API.
export const kMetricUnits = { bps: "b/s", pps: "pkt/s", fps: "flows/s" };
export const kMetricNames = { bps: "bits per second", pps: "packets per second",
                              fps: "TCP flows per second" };

function isNumber(value) {
  return typeof value === "number" && Number.isFinite(value);
}

/// The SI prefix that suits `magnitude` (1e6 → M).
export function prefixFor(magnitude) {
  const abs = Math.abs(magnitude);
  return kPrefixes.find((p) => abs >= p.factor) ?? kPrefixes[kPrefixes.length - 1];
}

/// A number with three significant digits at most, no exponent: 12.3, 0.41, 512.
export function plain(value) {
  if (!isNumber(value)) return "–";
  const abs = Math.abs(value);
  if (abs === 0) return "0";
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return Number(value.toFixed(digits)).toString();
}

/// `value` in `unit` with an SI prefix: 12.3 Mb/s. "–" when not a number.
export function withUnit(value, unit) {
  if (!isNumber(value)) return "–";
  const { factor, prefix } = prefixFor(value);
  return `${plain(value / factor)} ${prefix}${unit}`;
}

/// An integer count with thin grouping: 45 685.
export function count(value) {
  if (!isNumber(value)) return "–";
  return Math.round(value).toLocaleString("en-US").replace(/,/g, "\u202f");
}

/// An estimate `{value, ci_low, ci_high}` as "12.3 Mb/s [11.9, 12.8]": the bounds in the
/// value's prefix, so they read at a glance. "–" when the estimate is missing.
export function estimate(est, unit) {
  if (!est || !isNumber(est.value)) return "–";
  const { factor, prefix } = prefixFor(Math.max(Math.abs(est.value), Math.abs(est.ci_high ?? 0)));
  const bounds = isNumber(est.ci_low) && isNumber(est.ci_high)
    ? ` [${plain(est.ci_low / factor)}, ${plain(est.ci_high / factor)}]`
    : "";
  return `${plain(est.value / factor)} ${prefix}${unit}${bounds}`;
}

/// The same as `estimate` for a plain value with bounds.
export function interval(value, low, high, unit) {
  return estimate({ value, ci_low: low, ci_high: high }, unit);
}

/// A share 0..1 as a percentage: 27.0 %.
export function percent(share) {
  if (!isNumber(share)) return "–";
  return `${(share * 100).toFixed(share < 0.1 ? 2 : 1)} %`;
}

function pad(number, width = 2) {
  return String(number).padStart(width, "0");
}

/// Unix milliseconds as local "2026-12-07 09:00:05"; "–" for null.
export function time(ms) {
  if (!isNumber(ms)) return "–";
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
         `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/// Unix milliseconds as an ISO 8601 text with the local offset, for <time datetime>.
export function isoLocal(ms) {
  if (!isNumber(ms)) return "";
  const d = new Date(ms);
  const offset = -d.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  return `${time(ms).replace(" ", "T")}${sign}${pad(Math.floor(Math.abs(offset) / 60))}:` +
         `${pad(Math.abs(offset) % 60)}`;
}

/// The browser's zone as "UTC+01:00".
export function zoneLabel() {
  const offset = -new Date().getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  return `UTC${sign}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
}

/// Seconds as "3 h 20 min", "4 min 05 s", "12 s".
export function duration(seconds) {
  if (!isNumber(seconds)) return "–";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const two = (big, bigUnit, small, smallUnit) =>
    small ? `${big} ${bigUnit} ${pad(small)} ${smallUnit}` : `${big} ${bigUnit}`;
  if (s < 3600) return two(Math.floor(s / 60), "min", s % 60, "s");
  if (s < 86400) return two(Math.floor(s / 3600), "h", Math.floor((s % 3600) / 60), "min");
  return two(Math.floor(s / 86400), "d", Math.floor((s % 86400) / 3600), "h");
}

/// A detection type as words: horizontal_scan → horizontal scan.
export function words(identifier) {
  return String(identifier ?? "").replace(/_/g, " ");
}
