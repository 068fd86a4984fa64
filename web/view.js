// What every view shares: API calls that are cancelled when the view is left, a refresh
// timer that pauses while the tab is hidden, and the way errors are shown.

import { ApiError, get } from "./api.js";
import { html, patch } from "./html.js";

export const kRefreshMs = 5000;

/// A view's lifetime. `get` rejects with ApiError (code "aborted" once the view is left);
/// `every(fn)` runs fn now and then every 5 s while the page is visible; `dispose` ends it all.
export function viewContext(me) {
  const controller = new AbortController();
  const timers = [];
  return {
    me,
    signal: controller.signal,
    get active() {
      return !controller.signal.aborted;
    },
    get(path, params) {
      return get(path, params, { signal: controller.signal });
    },
    every(fn, ms = kRefreshMs) {
      let running = false;
      const tick = async () => {
        if (running || controller.signal.aborted || document.hidden) return;
        running = true;
        try {
          await fn();
        } catch (err) {
          console.error(err);  // fn shows its own errors; this is a bug in the view
        } finally {
          running = false;
        }
      };
      tick();
      timers.push(setInterval(tick, ms));
    },
    dispose() {
      controller.abort();
      for (const timer of timers) clearInterval(timer);
    },
  };
}

/// True when `err` only says that the view was left: nothing to show.
export function isAborted(err) {
  return err instanceof ApiError && err.code === "aborted";
}

/// An error as a message box in the view. `what` says what could not be loaded.
export function errorBox(what, err) {
  const detail = err instanceof ApiError
    ? (err.status ? `${err.message} (HTTP ${err.status}${err.code ? `, ${err.code}` : ""})` : err.message)
    : `The dashboard hit a bug: ${err?.message ?? err}`;
  return html`<div class="message error" role="alert"><strong>${what}</strong> ${detail}</div>`;
}

/// A neutral notice ("no incidents in this span").
export function notice(text) {
  return html`<p class="message empty">${text}</p>`;
}

/// Loads with `load()` and renders `render(data)` into `container`, or an error box, unless
/// `isCurrent()` says a newer load has started meanwhile. Returns the data, or null on error.
export async function loadInto(container, what, load, render, isCurrent = () => true) {
  try {
    const data = await load();
    if (isCurrent()) patch(container, render(data));
    return data;
  } catch (err) {
    if (isAborted(err) || !isCurrent()) return null;
    if (!(err instanceof ApiError)) console.error(err);
    patch(container, errorBox(what, err));
    return null;
  }
}
