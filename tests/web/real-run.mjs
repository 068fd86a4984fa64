// The dashboard against the real thing: starts `fathom run` (live UDP collection, the REST API
// and the dashboard, an admin token and a token for tenant 1 from api.tokens), feeds it a short
// version of the demo scenario with fathom-gen in real time, waits until the API shows live
// traffic and an incident, then runs dashboard.test.mjs against it while the traffic keeps
// flowing. Then, once two minutes are stored, stops fathom with SIGINT (it must exit 0),
// starts `fathom api` alone on the same SQLite store and runs dashboard.test.mjs against that
// (FATHOM_WEB_ROLE=api); SIGINT must stop it with 0 too.
//
//   node tests/web/real-run.mjs FATHOM FATHOM_GEN SOURCE_DIR
//
// Screenshots go to $FATHOM_WEB_ARTIFACTS (default tests/web/artifacts; fathom api's in api/),
// the processes' logs beside them (fathom-run.log, fathom-gen.log, fathom-api.log).

import { spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
if (process.argv.length !== 5) {
  console.error("usage: real-run.mjs FATHOM FATHOM_GEN SOURCE_DIR");
  process.exit(2);
}
const [fathomBin, genBin, sourceDir] = process.argv.slice(2).map((p) => path.resolve(p));
const artifacts = path.resolve(process.env.FATHOM_WEB_ARTIFACTS || path.join(here, "artifacts"));
fs.mkdirSync(artifacts, { recursive: true });
const kStartTimeoutMs = 30000;
const kDataTimeoutMs = 120000;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fathom-web-real-"));
const children = [];
let failed = false;

function fail(message) {
  console.error(`real-run: ${message}`);
  failed = true;
}

function cleanUp() {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
  fs.rmSync(dir, { recursive: true, force: true });
}
process.on("exit", cleanUp);

const token = () => crypto.randomBytes(33).toString("base64url");
const sha256 = (text) => crypto.createHash("sha256").update(text).digest("hex");
const adminToken = token();
const tenantToken = token();

// examples/demo.yaml with absolute paths, one free UDP port and the two tokens.
let config = fs.readFileSync(path.join(sourceDir, "examples/demo.yaml"), "utf8")
  .replace(/^data_dir: .*$/m, `data_dir: ${path.join(dir, "data")}`)
  .replace(/^  state_file: .*$/m, `  state_file: ${path.join(dir, "decoder.state")}`)
  .replace(/^  listeners: .*$/m, '  listeners: ["127.0.0.1:0"]')
  .replaceAll("examples/", `${sourceDir}/examples/`)
  .replaceAll("data/geo/", `${sourceDir}/data/geo/`);
config += `api:
  tokens:
    - {name: admin, sha256: ${sha256(adminToken)}, admin: true}
    - {name: acme-noc, sha256: ${sha256(tenantToken)}, tenant: 1}
`;
fs.writeFileSync(path.join(dir, "fathom.yaml"), config);

// The demo scenario's tenants and exporters; two floods that start at once (NetFlow/IPFIX for
// tenant 1, sFlow for tenant 3) and a scan, in real time for up to five minutes.
let scenario = fs.readFileSync(path.join(sourceDir, "examples/scenarios/demo.yaml"), "utf8")
  .replace("intel_file: intel.txt", `intel_file: ${sourceDir}/examples/scenarios/intel.txt`)
  .replace(/^duration: .*$/m, "duration: 5m");
scenario = scenario.slice(0, scenario.indexOf("\nattacks:")) + `
attacks:
  - {id: t1-syn, tenant: 1, type: syn_flood, start: 3s, duration: 4m, rate: 20000}
  - {id: t3-udp, tenant: 3, type: udp_flood, start: 3s, duration: 4m}
  - {id: t2-vscan, tenant: 2, type: vertical_scan, start: 5s, duration: 4m, rate: 100, targets: 2000}
`;
fs.writeFileSync(path.join(dir, "scenario.yaml"), scenario);

function start(name, argv) {
  const log = fs.createWriteStream(path.join(artifacts, `${name}.log`));
  const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "pipe"], cwd: dir });
  children.push(child);
  child.stdout.pipe(log, { end: false });
  child.exited = new Promise((resolve) => {
    child.on("exit", (code, signal) => resolve({ code, signal }));
    child.on("error", (err) => {
      fail(`${argv[0]}: ${err.message}`);
      resolve({ code: -1, signal: null });
    });
  });
  return { child, log };
}

const fathom = start("fathom-run", [fathomBin, "run", "--config", path.join(dir, "fathom.yaml"),
                                     "--api-listen", "127.0.0.1:0", "--metrics-listen", "off"]);
const started = await new Promise((resolve) => {
  const found = {};
  const timer = setTimeout(() => resolve(null), kStartTimeoutMs);
  readline.createInterface({ input: fathom.child.stderr }).on("line", (line) => {
    fathom.log.write(`${line}\n`);
    const url = line.match(/dashboard at (http:\/\/[^ #]+)/);
    if (url) found.url = url[1];
    const port = line.match(/listening on UDP ports (\d+)/);
    if (port) found.port = port[1];
    if (found.url && found.port) {
      clearTimeout(timer);
      resolve(found);
    }
  });
  fathom.child.on("exit", () => resolve(null));
});
if (!started) {
  fail(`fathom run did not print its dashboard URL and UDP port within ${kStartTimeoutMs / 1000} s (see ${artifacts}/fathom-run.log)`);
  process.exit(1);
}
console.log(`# fathom run: dashboard at ${started.url}, UDP port ${started.port}`);

const gen = start("fathom-gen", [genBin, "--config", path.join(dir, "scenario.yaml"),
                                 "--udp", `127.0.0.1:${started.port}`, "--speed", "1x"]);
gen.child.stderr.pipe(gen.log, { end: false });

async function api(pathAndQuery) {
  const response = await fetch(new URL(`api/v1/${pathAndQuery}`, started.url),
                               { headers: { Authorization: `Bearer ${adminToken}` } });
  if (!response.ok) throw new Error(`${pathAndQuery}: HTTP ${response.status}`);
  return response.json();
}

// Live data: at least two 10-s windows of tenant 1 and an incident in it.
const deadline = Date.now() + kDataTimeoutMs;
let ready = false;
let lastState = "nothing yet";
while (Date.now() < deadline && gen.child.exitCode === null) {
  try {
    const traffic = await api("tenants/1/traffic?from=-15m");
    const incidents = await api("incidents?tenant=1&state=open");
    const points = traffic.series?.[0]?.points?.length ?? 0;
    lastState = `${points} live points, ${incidents.total} open incidents of tenant 1`;
    if (points >= 2 && incidents.total >= 1) {
      ready = true;
      break;
    }
  } catch (err) {
    lastState = String(err);
  }
  await new Promise((resolve) => setTimeout(resolve, 1000));
}
console.log(`# live data: ${lastState}`);
if (!ready) fail(`no live traffic and incident within ${kDataTimeoutMs / 1000} s (${lastState})`);

if (ready) {
  const test = spawn(process.execPath, [path.join(here, "dashboard.test.mjs")], {
    stdio: "inherit",
    env: {
      ...process.env,
      FATHOM_WEB_URL: started.url,
      FATHOM_WEB_ADMIN_TOKEN: adminToken,
      FATHOM_WEB_TENANT_TOKEN: tenantToken,
      FATHOM_WEB_TENANT: "1",
      FATHOM_WEB_OTHER_TENANT: "2",
      FATHOM_WEB_REQUIRE_INCIDENT: "1",
      FATHOM_WEB_ARTIFACTS: artifacts,
    },
  });
  const code = await new Promise((resolve) => test.on("exit", (c) => resolve(c)));
  if (code !== 0) fail(`dashboard.test.mjs failed against fathom run (status ${code})`);
}

// fathom api serves the traffic chart from the stored minutes: wait for two of tenant 1.
let stored = 0;
const storedDeadline = Date.now() + kDataTimeoutMs + 60000;
while (ready && Date.now() < storedDeadline && gen.child.exitCode === null) {
  try {
    stored = (await api("tenants/1/traffic?from=-15m&step=1m")).series?.[0]?.points?.length ?? 0;
    if (stored >= 2) break;
  } catch (err) {
    console.log(`# waiting for stored minutes: ${err}`);
  }
  await new Promise((resolve) => setTimeout(resolve, 2000));
}
console.log(`# stored minutes of tenant 1: ${stored}`);
if (ready && stored < 2) fail("fewer than two minutes of tenant 1 were stored");

async function stop(name, child) {
  child.kill("SIGINT");
  const stopTimer = setTimeout(() => child.kill("SIGKILL"), kStartTimeoutMs);
  const status = await child.exited;
  clearTimeout(stopTimer);
  if (status.code !== 0) fail(`${name} exited with ${status.code ?? status.signal} after SIGINT`);
}

gen.child.kill("SIGTERM");
await gen.child.exited;
await stop("fathom run", fathom.child);

if (ready && stored >= 2) {
  // The API role alone on what fathom run stored: no collector, no analysis, no live windows.
  const apiNode = start("fathom-api", [fathomBin, "api", "--config", path.join(dir, "fathom.yaml"),
                                       "--api-listen", "127.0.0.1:0", "--metrics-listen", "off"]);
  const apiUrl = await new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), kStartTimeoutMs);
    readline.createInterface({ input: apiNode.child.stderr }).on("line", (line) => {
      apiNode.log.write(`${line}\n`);
      const url = line.match(/dashboard at (http:\/\/[^ #]+)/);
      if (url) {
        clearTimeout(timer);
        resolve(url[1]);
      }
    });
    apiNode.child.on("exit", () => resolve(null));
  });
  if (!apiUrl) {
    fail(`fathom api did not print its dashboard URL within ${kStartTimeoutMs / 1000} s (see ${artifacts}/fathom-api.log)`);
  } else {
    console.log(`# fathom api: dashboard at ${apiUrl}`);
    const test = spawn(process.execPath, [path.join(here, "dashboard.test.mjs")], {
      stdio: "inherit",
      env: {
        ...process.env,
        FATHOM_WEB_URL: apiUrl,
        FATHOM_WEB_ROLE: "api",
        FATHOM_WEB_ADMIN_TOKEN: adminToken,
        FATHOM_WEB_TENANT_TOKEN: tenantToken,
        FATHOM_WEB_TENANT: "1",
        FATHOM_WEB_OTHER_TENANT: "2",
        FATHOM_WEB_REQUIRE_INCIDENT: "1",
        FATHOM_WEB_ARTIFACTS: path.join(artifacts, "api"),
      },
    });
    const code = await new Promise((resolve) => test.on("exit", (c) => resolve(c)));
    if (code !== 0) fail(`dashboard.test.mjs failed against fathom api (status ${code})`);
  }
  await stop("fathom api", apiNode.child);
}
process.exit(failed ? 1 : 0);
