// The dashboard's entry point: log-in by token, hash routing, the header. Views live in their
// own modules and mount into <main>; each gets a context that ends its requests and timers
// when the reader leaves it.

import { ApiError, get, getToken, onUnauthorized, setToken } from "./api.js";
import { html, patch } from "./html.js";
import { zoneLabel } from "./format.js";
import { errorBox, viewContext } from "./view.js";
import * as overview from "./overview.js";
import * as tenant from "./tenant.js";
import * as incident from "./incident.js";
import * as exporters from "./exporters.js";

const main = document.querySelector("#main");
const header = document.querySelector("#top");
const who = document.querySelector("#who");
const logoutButton = document.querySelector("#logout");

let me = null;          // the /me answer while logged in
let current = null;     // the mounted view's context

const kRoutes = [
  { pattern: /^#?\/?$/, view: overview, nav: "overview" },
  { pattern: /^#\/tenant\/(?<tenant>\d+)\/?$/, view: tenant },
  { pattern: /^#\/tenant\/(?<tenant>\d+)\/incident\/(?<incident>[^/]+)\/?$/, view: incident },
  { pattern: /^#\/exporters\/?$/, view: exporters, nav: "exporters" },
];

function leaveView() {
  current?.dispose();
  current = null;
}

function route({ focus = true } = {}) {
  if (!me) return;
  leaveView();
  const hash = location.hash || "#/";
  const match = kRoutes.map((r) => ({ r, m: r.pattern.exec(hash) })).find(({ m }) => m);
  for (const link of document.querySelectorAll("#top nav a")) {
    if (match?.r.nav === link.dataset.nav) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  main.replaceChildren();
  if (!match) {
    document.title = "Not found – Fathom";
    patch(main, html`<h1 tabindex="-1">Page not found</h1>
      <div class="message error not-found" role="alert">There is no page at ${hash}. <a href="#/">Go to the overview</a>.</div>`);
  } else {
    const params = Object.fromEntries(Object.entries(match.m.groups ?? {})
      .map(([key, value]) => [key, decodeURIComponent(value)]));
    current = viewContext(me);
    try {
      document.title = `${match.r.view.mount(main, current, params)} – Fathom`;
    } catch (err) {
      console.error(err);
      patch(main, errorBox("This view could not be shown.", err));
    }
  }
  if (focus) main.querySelector("h1")?.focus({ preventScroll: false });
}

function showLogin(message = "", isError = false) {
  leaveView();
  me = null;
  header.hidden = true;
  document.title = "Log in – Fathom";
  main.replaceChildren();
  patch(main, html`<section class="login" aria-labelledby="login-title">
    <h1 id="login-title">Fathom</h1>
    <p class="muted">Network-flow threat detection. Log in with an API token (<code>fathom token new</code>,
      or the URL that <code>fathom run</code> logs at start).</p>
    ${message ? html`<div class="message ${isError ? "error" : "info"}" role="alert" id="login-message">${message}</div>` : ""}
    <form id="login-form" novalidate>
      <label for="token">Bearer token</label>
      <input id="token" name="token" type="password" autocomplete="off" spellcheck="false" required>
      <button type="submit" id="login-button">Log in</button>
    </form></section>`);
  const form = main.querySelector("#login-form");
  const input = main.querySelector("#token");
  input.focus();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) {
      showLogin("Enter a token.", true);
      return;
    }
    await logIn(token);
  });
}

async function logIn(token) {
  try {
    const answer = await get("me", {}, { token });
    setToken(token);
    startSession(answer);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      showLogin("The server did not accept this token (401).", true);
    } else {
      showLogin(err instanceof ApiError ? `Could not log in: ${err.message}` : `Could not log in: ${err}`, true);
    }
  }
}

function startSession(answer) {
  me = { name: String(answer?.name ?? ""), admin: answer?.admin === true,
         tenant_id: answer?.tenant_id ?? null };
  header.hidden = false;
  patch(who, me.admin
    ? html`<span class="role">admin</span> ${me.name}`
    : html`<span class="role">tenant ${me.tenant_id}</span> ${me.name}`);
  route();
}

/// Takes a token from `#token=...`, keeps it, and removes it from the address bar (and the
/// history) so it is not shared with a copied URL. Returns the token or null.
function takeTokenFromHash() {
  const match = /^#token=([^&]*)/.exec(location.hash);
  if (!match) return null;
  history.replaceState(null, "", `${location.pathname}${location.search}#/`);
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return match[1];
  }
}

onUnauthorized(() => {
  if (me) showLogin("The server no longer accepts the token (401): log in again.", true);
});

// "#main" is not a route: the skip link moves the focus without touching the hash.
document.querySelector("#skip").addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
});

logoutButton.addEventListener("click", () => {
  setToken(null);
  showLogin("Logged out.");
});

window.addEventListener("hashchange", () => {
  const token = takeTokenFromHash();
  if (token) logIn(token);
  else route();
});

// Last resort: a bug must not leave a blank page.
window.addEventListener("unhandledrejection", (event) => {
  if (event.reason instanceof ApiError && event.reason.code === "aborted") return;
  console.error(event.reason);
  showBanner(`Something failed: ${event.reason?.message ?? event.reason}`);
});
window.addEventListener("error", (event) => showBanner(`Something failed: ${event.message}`));

function showBanner(text) {
  const banner = document.querySelector("#banner");
  patch(banner, html`<div class="message error" role="alert">${text}</div>`);
}

document.querySelector("#zone").textContent = `Times are local (${zoneLabel()}).`;

const fromHash = takeTokenFromHash();
const stored = fromHash ?? getToken();
if (stored) logIn(stored);
else showLogin();
