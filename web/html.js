// Safe HTML building. Every value interpolated into an `html` template is escaped unless it
// is itself the result of `html` (or `raw`, kept for markup this code writes itself), so
// strings from the API (subjects, summaries, exporter addresses) can never become markup.

class Markup {
  constructor(text) {
    this.text = text;
  }
  toString() {
    return this.text;
  }
}

const kEscapes = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/// Escapes text for use in an element or a quoted attribute.
export function escapeHtml(value) {
  return String(value).replace(/[&<>"']/g, (ch) => kEscapes[ch]);
}

function render(value) {
  if (value instanceof Markup) return value.text;
  if (value === null || value === undefined || value === false) return "";
  if (Array.isArray(value)) return value.map(render).join("");
  return escapeHtml(value);
}

/// Tagged template: `html\`<td>${subject}</td>\`` escapes `subject`; arrays are joined;
/// null, undefined and false render as nothing.
export function html(strings, ...values) {
  let out = strings[0];
  for (let idx = 0; idx < values.length; idx++) out += render(values[idx]) + strings[idx + 1];
  return new Markup(out);
}

/// Markup this code generated itself (SVG built from numbers). Never pass API strings here.
export function raw(text) {
  return new Markup(String(text));
}

/// Replaces the content of `container` with `markup` only when it changed, keeping the
/// window's scroll position and the focused element (found again by its id or its
/// data-key), so a 5-second refresh does not move the reader.
const rendered = new WeakMap();

export function patch(container, markup) {
  const text = render(markup);
  if (rendered.get(container) === text) return;
  const active = document.activeElement;
  let focusSelector = null;
  if (active && active !== document.body && container.contains(active)) {
    if (active.id) focusSelector = `#${CSS.escape(active.id)}`;
    else if (active.dataset.key) focusSelector = `[data-key="${CSS.escape(active.dataset.key)}"]`;
  }
  const scrollX = window.scrollX;
  const scrollY = window.scrollY;
  container.innerHTML = text;
  rendered.set(container, text);
  if (focusSelector) container.querySelector(focusSelector)?.focus({ preventScroll: true });
  window.scrollTo(scrollX, scrollY);
}
