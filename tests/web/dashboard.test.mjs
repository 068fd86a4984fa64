// Browser tests of the dashboard (web/): Debian's Chromium driven by playwright-core.
//
//   node tests/web/dashboard.test.mjs
//
// By default starts tests/web/fixture-server.mjs on a free port. Against a real `fathom run`:
//   FATHOM_WEB_URL=http://127.0.0.1:8080/ FATHOM_WEB_ADMIN_TOKEN=... [FATHOM_WEB_TENANT_TOKEN=...
//   FATHOM_WEB_TENANT=1 FATHOM_WEB_OTHER_TENANT=2 FATHOM_WEB_REQUIRE_INCIDENT=1
//   FATHOM_WEB_ROLE=api]
//   node tests/web/dashboard.test.mjs
// (tests/web/real-run.mjs does exactly that with a fathom run it starts and feeds.)
// FATHOM_WEB_REQUIRE_INCIDENT: the tenant must show an incident (else that test is skipped).
// FATHOM_WEB_ROLE=api: the server is `fathom api` (no live state: its health section differs).
// Checks that need the fixture's known data (tenant names, the anomaly's features) run only
// against the fixture. Screenshots go to $FATHOM_WEB_ARTIFACTS (default tests/web/artifacts).

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startFixtureServer } from "./fixture-server.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const kChromium = "/usr/bin/chromium";
const kChromiumArgs = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                       "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const kTimeout = 15000;

let chromium;
try {
  ({ chromium } = await import("playwright-core"));
} catch {
  console.error("dashboard test: playwright-core is not installed: run scripts/install-deps " +
                "(or npm ci --prefix tests/web)");
  process.exit(1);
}
if (!fs.existsSync(kChromium)) {
  console.error(`dashboard test: ${kChromium} is missing: run scripts/install-deps (Debian package chromium)`);
  process.exit(1);
}

const env = (name) => (process.env[name] ? process.env[name] : undefined);
const real = env("FATHOM_WEB_URL");
const artifacts = path.resolve(env("FATHOM_WEB_ARTIFACTS") ?? path.join(here, "artifacts"));

let fixture = null;
let baseUrl;
let adminToken;
let tenantToken;
let tenantId;
let otherTenantId;
let userDataDir;
let context;
let page;
const pageErrors = [];
const foreignRequests = [];
const policyViolations = [];  // what the server's Content-Security-Policy refused

/// Whether the checks of the fixture's known data run (against a real fathom they do not; the
/// test's other checks still do, so it is not reported as skipped).
function fixtureOnly(t) {
  if (real) t.diagnostic("the checks of the fixture's data are left out against a real fathom");
  return !real;
}

async function shot(name) {
  await page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
}

async function gotoHash(hash) {
  await page.evaluate((h) => { location.hash = h; }, hash);
}

/// The text of the focused element's id, for keyboard checks.
function focusedId() {
  return page.evaluate(() => document.activeElement?.id ?? "");
}

async function logInWithKeyboard(token) {
  await page.goto(baseUrl);
  await page.locator("#token").waitFor();
  assert.equal(await focusedId(), "token", "the token field has the focus on the log-in page");
  await page.keyboard.type(token);
  for (let presses = 0; presses < 6 && (await focusedId()) !== "login-button"; presses++) {
    await page.keyboard.press("Tab");
  }
  assert.equal(await focusedId(), "login-button", "Tab reaches the log-in button");
  await page.keyboard.press("Enter");
  await page.locator("#top").waitFor({ state: "visible" });
  await page.locator("main h1", { hasText: "Overview" }).waitFor();
}

async function logOut() {
  if (await page.locator("#logout").isVisible()) await page.click("#logout");
  await page.locator("#login-form").waitFor();
}

before(async () => {
  fs.mkdirSync(artifacts, { recursive: true });
  if (real) {
    baseUrl = real.endsWith("/") ? real : `${real}/`;
    adminToken = env("FATHOM_WEB_ADMIN_TOKEN");
    assert.ok(adminToken, "FATHOM_WEB_URL needs FATHOM_WEB_ADMIN_TOKEN");
    tenantToken = env("FATHOM_WEB_TENANT_TOKEN");
    tenantId = env("FATHOM_WEB_TENANT") ?? "1";
    otherTenantId = env("FATHOM_WEB_OTHER_TENANT") ?? "2";
  } else {
    fixture = await startFixtureServer();
    ({ url: baseUrl, adminToken, tenantToken } = fixture);
    tenantId = "1";
    otherTenantId = "2";
  }
  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "fathom-web-chromium-"));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: kChromium, headless: true, args: kChromiumArgs,
    viewport: { width: 1366, height: 768 }, timezoneId: "Europe/Berlin", locale: "en-GB",
  });
  context.setDefaultTimeout(kTimeout);
  page = context.pages()[0] ?? await context.newPage();
  page.on("pageerror", (err) => pageErrors.push(String(err)));
  page.on("console", (msg) => {
    if (/Content Security Policy/i.test(msg.text())) policyViolations.push(msg.text());
  });
  const origin = new URL(baseUrl).origin;
  page.on("request", (req) => {
    const url = req.url();
    if (!url.startsWith(origin) && !url.startsWith("data:") && !url.startsWith("about:")) foreignRequests.push(url);
  });
  console.log(`# dashboard test against ${real ? baseUrl : `the fixture at ${baseUrl}`}; screenshots in ${artifacts}`);
});

after(async () => {
  await context?.close();
  await fixture?.close();
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
});

test("the log-in page: Tab reaches the log-in button and Enter submits", async () => {
  await page.goto(baseUrl);
  await page.locator("#token").waitFor();
  await page.keyboard.type("not-a-token");
  await page.keyboard.press("Enter");
  await page.locator("#login-message", { hasText: "did not accept" }).waitFor();
  await shot("login-rejected");
  await page.fill("#token", "");
  await page.locator("#token").focus();
  await logInWithKeyboard(adminToken);
});

test("the overview lists the tenants with intervals, and the ingest health", async (t) => {
  const rows = page.locator("#tenants tbody tr");
  await rows.first().waitFor();
  assert.ok(await page.locator(`#tenants a[href="#/tenant/${tenantId}"]`).count() === 1, `tenant ${tenantId} is listed`);
  const text = await page.locator("#tenants").innerText();
  assert.match(text, /b\/s \[[\d.]+, [\d.]+\]|no window yet/, "traffic is shown with its interval");
  await page.locator("#health .stats").waitFor();
  if (env("FATHOM_WEB_ROLE") === "api") {
    // fathom api runs no collector or analysis: the section says so and shows the store.
    const health = await page.locator("#health").innerText();
    assert.match(health, /API node/);
    assert.match(health, /(sqlite|postgresql) up/);
  } else {
    assert.match(await page.locator("#health").innerText(), /Records\/s/);
  }
  if (fixtureOnly(t)) {
    assert.equal(await rows.count(), 3);
    assert.match(text, /acme/);
    assert.match(text, /globex/);
    assert.match(text, /tenant 3/, "a tenant known only from live traffic has no name: its id stands in");
    assert.match(text, /1 high/, "open incidents by severity");
    assert.match(await page.locator("#health").innerText(), /the kernel dropped \d+ datagrams lately/, "the problems list");
  }
  await shot("overview");
});

test("the tenant view draws traffic as a line with its confidence band, and keeps focus across refreshes", async (t) => {
  await page.click(`#tenants a[href="#/tenant/${tenantId}"]`);
  await page.locator("#chart svg.chart").waitFor();
  const svg = page.locator("#chart svg.chart");
  assert.match(await svg.getAttribute("aria-label"), /with 95% intervals/);
  await page.locator("#chart svg path.band").first().waitFor({ state: "attached" });
  await page.locator("#chart svg path.line").first().waitFor({ state: "attached" });
  // A run of points is a closed area; a lone point (a gap on either side) a small box.
  const bands = await page.locator("#chart svg path.band").evaluateAll((ps) => ps.map((p) => p.getAttribute("d")));
  assert.ok(bands.some((d) => /^M[\d.]+,[\d.]+L.*Z$/.test(d)), `a band is a closed area: ${bands.join(" | ")}`);
  assert.match(await page.locator("#chart .chart-summary").innerText(), /latest .* \[/);

  await page.click("#by-direction");
  await page.waitForFunction(() => document.querySelectorAll("#chart svg path.line").length > 1 &&
                                   document.querySelector("#chart svg")?.getAttribute("aria-label")?.includes("by direction"));
  await page.click("#metric-pps");
  await page.waitForFunction(() => document.querySelector("#chart svg")?.textContent.includes("pkt/s"));
  await page.click("#span-1h");
  await page.waitForFunction(() => document.querySelector("#chart .legend")?.textContent.includes("from rollups") ||
                                   document.querySelector("#chart .legend")?.textContent.includes("step"));
  await page.locator("#top table").first().waitFor();
  await page.locator("#geo table").first().waitFor();
  const overlaps = await page.evaluate(() => {
    const boxes = [...document.querySelectorAll("#top table, #geo table")].map((e) => e.getBoundingClientRect());
    const found = [];
    boxes.forEach((a, i) => boxes.slice(i + 1).forEach((b) => {
      if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1) found.push([i, a.right, b.left]);
    }));
    return found;
  });
  assert.deepEqual(overlaps, [], "the top and geo tables do not overlap each other");
  if (fixtureOnly(t)) {
    assert.ok(await page.locator("#chart svg .incident-bar").count() >= 2, "incidents are bars on the time axis");
    assert.ok(await page.locator("#incidents tbody tr").count() >= 2, "incidents are listed");
    // The fixture's summary has markup in it: shown as text, never run.
    assert.match(await page.locator("#incidents").innerText(), /<img src=x/);
    assert.equal(await page.locator("#incidents img").count(), 0);
    assert.equal(await page.evaluate(() => window.__xss), undefined);
  }
  await page.click("#by-total");
  await page.click("#metric-bps");
  await page.click("#span-15m");
  await page.waitForFunction(() => document.querySelector("#chart svg")?.getAttribute("aria-label")?.includes("by total"));
  await page.locator("#span-1h").focus();
  await page.evaluate(() => window.scrollTo(0, 200));
  const scrolled = await page.evaluate(() => window.scrollY);
  await page.waitForTimeout(5600);  // one auto-refresh
  assert.equal(await focusedId(), "span-1h", "the focus stays where it was across a refresh");
  assert.equal(await page.evaluate(() => window.scrollY), scrolled, "the scroll position stays");
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot("tenant");
});

test("the incident view shows the evidence and the autoencoder's explanation", async (t) => {
  const links = page.locator('#incidents a[href*="/incident/"]');
  if (!real) {
    await page.click('#incidents a:has-text("anomaly")');
  } else {
    await links.first().waitFor({ state: "attached", timeout: env("FATHOM_WEB_REQUIRE_INCIDENT") ? kTimeout : 1 })
      .catch(() => {});
    if ((await links.count()) === 0) {
      assert.ok(!env("FATHOM_WEB_REQUIRE_INCIDENT"), "the tenant view lists the incident that the API has");
      t.skip("the tenant has no incident in the last 15 minutes");
      return;
    }
    await links.first().click();
  }
  await page.locator("#ev-title").waitFor();
  await page.locator("#sev-title").waitFor();
  assert.equal(await focusedId(), "incident-title", "the focus moves to the new page's heading");
  assert.match(await page.locator("#flows-title + *").innerText(), /Raw flows are not kept|Raw sampled flows/);
  if (real && env("FATHOM_WEB_REQUIRE_INCIDENT")) {
    // A live incident: its subject's flows were captured after the detection and stored.
    await page.locator("#flows-title + * tbody tr").first().waitFor();
  }
  assert.match(await page.locator("#explanation").innerText(),
               /Reconstruction score|comes from a rule/, "the explanation section says what raised it");
  assert.match(await page.locator("main").innerText(), /[\d.]+[kMG]? \[[\d.]+[kMG]?, [\d.]+[kMG]?\]/,
               "an estimate with its interval in the evidence");
  if (fixtureOnly(t)) {
    const explanation = await page.locator("#explanation").innerText();
    assert.match(explanation, /distinct_remote_ports/);
    assert.match(explanation, /13\.3× usual/, "40 against the usual 3");
    assert.equal(await page.locator("#explanation tbody tr").count(), 3);
    assert.equal(await page.locator("#explanation tbody tr").first().locator("rect.bar-value").getAttribute("width"), "100.0",
                 "the worst feature's value is the longest bar");
    // The score is a plain value: its interval is collapsed on it (detect/anomaly_detector.cpp).
    assert.match(await page.locator("main").innerText(), /anomaly_score\s+7\.2 \[7\.2, 7\.2\]/, "evidence with its interval");
    assert.equal(await page.locator("#flows-title + * tbody tr").count(), 3, "the anomaly's three sampled flows");
    assert.match(await page.locator("#flows-title + *").innerText(), /198\.51\.100\.7/);
  }
  await shot("incident");
});

test("the exporters view shows status, rates, sampling, templates and errors", async (t) => {
  await page.click('#top nav a[data-nav="exporters"]');
  await page.locator("#exporters tbody tr").first().waitFor();
  assert.equal(await page.locator('#top nav a[aria-current="page"]').innerText(), "Exporters");
  if (fixtureOnly(t)) {
    const text = await page.locator("#exporters").innerText();
    assert.equal(await page.locator("#exporters tbody tr").count(), 7);
    for (const expected of ["127.0.0.11", "1 in 100", "unknown", "stale", "silent", "truncated 2", "parked 14", "none"]) {
      assert.ok(text.includes(expected), `the exporters table shows ${expected}`);
    }
  }
  await shot("exporters");
});

test("API failures show as a message in the view", async () => {
  const cases = [
    ["error-500", (route) => route.fulfill({ status: 500, contentType: "application/json",
      body: '{"error":{"status":500,"code":"internal","message":"store exploded"}}' }), /store exploded \(HTTP 500/],
    ["error-malformed", (route) => route.fulfill({ status: 200, contentType: "application/json", body: "{not json" }),
     /not valid JSON/],
    ["error-network", (route) => route.abort("connectionrefused"), /Could not reach/],
  ];
  for (const [name, handler, message] of cases) {
    await page.route("**/api/v1/tenants", handler);
    await gotoHash("#/");
    await page.locator("#tenants .message.error").waitFor();
    assert.match(await page.locator("#tenants").innerText(), message);
    assert.ok(await page.locator("main h1").isVisible(), "the view is still there");
    await shot(name);
    await page.unroute("**/api/v1/tenants");
    await gotoHash("#/exporters");
    await page.locator("#exporters tbody tr").first().waitFor();
  }
  await gotoHash("#/no/such/page");
  await page.locator(".not-found").waitFor();
});

test("a 401 returns to the log-in form with a message; log out works", async () => {
  await page.route("**/api/v1/**", (route) => route.fulfill({
    status: 401, contentType: "application/json",
    headers: { "WWW-Authenticate": 'Bearer realm="fathom"' },
    body: '{"error":{"status":401,"code":"unauthorized","message":"unknown token"}}' }));
  await gotoHash("#/");
  await page.locator("#login-message", { hasText: "401" }).waitFor();
  assert.equal(await page.evaluate(() => localStorage.getItem("fathom.token")), null, "the token is forgotten");
  await page.unroute("**/api/v1/**");
  await logInWithKeyboard(adminToken);
  await logOut();
  assert.equal(await page.evaluate(() => localStorage.getItem("fathom.token")), null);
});

test("a tenant token logs in from #token= and sees only its own tenant", async (t) => {
  if (!tenantToken) {
    t.skip("no FATHOM_WEB_TENANT_TOKEN");
    return;
  }
  await page.goto(`${baseUrl}#token=${encodeURIComponent(tenantToken)}`);
  await page.locator("#tenants tbody tr").first().waitFor();
  assert.equal(new URL(page.url()).hash, "#/", "the token is removed from the address bar");
  assert.equal(await page.evaluate(() => localStorage.getItem("fathom.token")), tenantToken);
  assert.match(await page.locator("#who").innerText(), new RegExp(`tenant ${tenantId}`));
  assert.equal(await page.locator("#tenants tbody tr").count(), 1, "the overview lists only its tenant");
  assert.equal(await page.locator(`#tenants a[href="#/tenant/${tenantId}"]`).count(), 1);
  await shot("tenant-token-overview");
  await gotoHash(`#/tenant/${otherTenantId}`);
  await page.locator(".not-found").waitFor();
  assert.match(await page.locator(".not-found").innerText(), new RegExp(`Tenant ${otherTenantId} was not found`));
  await shot("tenant-token-not-found");
  await logOut();
});

test("no uncaught error, nothing refused by the page's CSP, and nothing fetched from elsewhere", () => {
  assert.deepEqual(pageErrors, [], "uncaught errors in the page");
  assert.deepEqual(policyViolations, [], "what the Content-Security-Policy refused");
  assert.deepEqual(foreignRequests, [], "requests to other origins");
});
