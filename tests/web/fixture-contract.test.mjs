// Holds tests/web/fixture-server.mjs to docs/openapi.yaml: every route of the description is
// requested from the fixture (200 with the parameters that change its shape, 400, 401, 404,
// 405, HEAD), and each answer's status must be described for its operation, its headers must
// be the described ones and its body must match the described schema. The fixture's data are
// what the dashboard tests see, so when the fixture drifts from the description (and so from
// the C++, which tests/api/check_openapi.py and tests/api hold to it) this test fails. It also
// checks the description's own examples against their schemas.
//
//   node tests/web/fixture-contract.test.mjs        (no browser; python3 with PyYAML reads the YAML)
//
// The schema check is a small JSON Schema subset written here (no npm package): type (with
// type arrays for null), const, enum, minimum/maximum, pattern, required, properties,
// additionalProperties, items, $ref, allOf, anyOf, oneOf. It is strict where JSON Schema is not:
// an object schema with `properties` and no `additionalProperties` admits no other property
// (through allOf, the union of the branches' properties), so a field the description does not
// have is drift too. A keyword it does not know fails the test rather than being ignored.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startFixtureServer } from "./fixture-server.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const openapiFile = path.resolve(here, "../../docs/openapi.yaml");

function loadSpec() {
  try {
    return JSON.parse(execFileSync("python3", ["-c",
      "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout, default=str)", openapiFile],
    { encoding: "utf8", maxBuffer: 64 << 20 }));
  } catch (err) {
    console.error("fixture contract: docs/openapi.yaml could not be read with python3 and PyYAML " +
                  "(Debian: python3-yaml; scripts/install-deps):", err.message);
    process.exit(1);
  }
}

const spec = loadSpec();
const apiBase = spec.servers[0].url;  // /api/v1

// ---- a JSON Schema subset --------------------------------------------------------------

const kKnownKeywords = new Set(["$ref", "type", "const", "enum", "minimum", "maximum", "exclusiveMinimum",
  "exclusiveMaximum", "pattern", "minLength", "maxLength", "items", "minItems", "maxItems", "required",
  "properties", "additionalProperties", "allOf", "anyOf", "oneOf",
  // annotations: no effect on validity
  "description", "title", "default", "examples", "example", "format", "deprecated", "readOnly", "writeOnly"]);

function resolve(ref) {
  assert.ok(ref.startsWith("#/"), `only local $refs are supported: ${ref}`);
  const target = ref.slice(2).split("/")
    .reduce((node, key) => node?.[key.replace(/~1/g, "/").replace(/~0/g, "~")], spec);
  assert.ok(target !== undefined, `$ref ${ref} does not resolve`);
  return target;
}

function jsonType(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;  // boolean, string, object
}

function hasType(value, type) {
  const actual = jsonType(value);
  return actual === type || (type === "number" && actual === "integer");
}

function equal(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

const isObject = (value) => jsonType(value) === "object";
const show = (value) => {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 80 ? `${text.slice(0, 77)}...` : text;
};

/// The property names an object schema admits (through $ref and allOf), or null when it admits
/// any (additionalProperties, or no properties at all).
function admittedNames(schema) {
  if (schema.$ref) return admittedNames(resolve(schema.$ref));
  if (schema.additionalProperties !== undefined && schema.additionalProperties !== false) return null;
  const names = new Set(Object.keys(schema.properties ?? {}));
  for (const branch of schema.allOf ?? []) {
    const more = admittedNames(branch);
    if (more === null) return null;
    for (const name of more) names.add(name);
  }
  return names.size || schema.additionalProperties === false ? names : null;
}

/// The errors of `value` against `schema`, each "<where>: <what>"; none when it matches.
export function check(schema, value, at = "$", strict = true) {
  const errors = [];
  if (schema === true || schema === undefined) return errors;
  if (schema === false) return [`${at}: nothing is allowed here`];
  for (const keyword of Object.keys(schema)) {
    if (!kKnownKeywords.has(keyword)) throw new Error(`${at}: the contract test does not know the schema keyword '${keyword}'`);
  }
  if (schema.$ref) errors.push(...check(resolve(schema.$ref), value, at, strict));
  if (schema.type !== undefined) {
    const types = [].concat(schema.type);
    if (!types.some((t) => hasType(value, t))) return [...errors, `${at}: ${show(value)} is not ${types.join(" or ")}`];
  }
  if ("const" in schema && !equal(value, schema.const)) errors.push(`${at}: ${show(value)} is not ${show(schema.const)}`);
  if (schema.enum && !schema.enum.some((e) => equal(e, value))) {
    errors.push(`${at}: ${show(value)} is not one of ${schema.enum.map(show).join(", ")}`);
  }
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum) errors.push(`${at}: ${value} < minimum ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) errors.push(`${at}: ${value} > maximum ${schema.maximum}`);
    if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum) errors.push(`${at}: ${value} <= ${schema.exclusiveMinimum}`);
    if (schema.exclusiveMaximum !== undefined && value >= schema.exclusiveMaximum) errors.push(`${at}: ${value} >= ${schema.exclusiveMaximum}`);
  }
  if (typeof value === "string") {
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, "u").test(value)) {
      errors.push(`${at}: ${show(value)} does not match ${schema.pattern}`);
    }
    if (schema.minLength !== undefined && [...value].length < schema.minLength) errors.push(`${at}: shorter than ${schema.minLength}`);
    if (schema.maxLength !== undefined && [...value].length > schema.maxLength) errors.push(`${at}: longer than ${schema.maxLength}`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) errors.push(`${at}: fewer than ${schema.minItems} items`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems) errors.push(`${at}: more than ${schema.maxItems} items`);
    if (schema.items !== undefined) value.forEach((item, i) => errors.push(...check(schema.items, item, `${at}[${i}]`)));
  }
  if (isObject(value)) {
    for (const name of schema.required ?? []) {
      if (!(name in value)) errors.push(`${at}: '${name}' is required and missing`);
    }
    const properties = schema.properties ?? {};
    for (const [name, sub] of Object.entries(properties)) {
      if (name in value) errors.push(...check(sub, value[name], `${at}.${name}`));
    }
    const others = Object.keys(value).filter((name) => !(name in properties));
    if (schema.additionalProperties === false) {
      for (const name of others) errors.push(`${at}.${name}: not allowed (additionalProperties: false)`);
    } else if (schema.additionalProperties !== undefined && schema.additionalProperties !== true) {
      for (const name of others) errors.push(...check(schema.additionalProperties, value[name], `${at}.${name}`));
    } else if (strict && schema.properties && !schema.allOf && schema.additionalProperties === undefined) {
      for (const name of others) errors.push(`${at}.${name}: not in the description`);
    }
  }
  if (schema.allOf) {
    for (const branch of schema.allOf) errors.push(...check(branch, value, at, false));
    const names = strict && isObject(value) ? admittedNames(schema) : null;
    if (names) {
      for (const name of Object.keys(value)) {
        if (!names.has(name)) errors.push(`${at}.${name}: not in the description`);
      }
    }
  }
  if (schema.anyOf) {
    const results = schema.anyOf.map((branch) => check(branch, value, at, strict));
    if (!results.some((r) => !r.length)) errors.push(`${at}: matches no branch of anyOf (${results.map((r) => r[0]).join("; ")})`);
  }
  if (schema.oneOf) {
    const results = schema.oneOf.map((branch) => check(branch, value, at, strict));
    const matching = results.filter((r) => !r.length).length;
    if (matching !== 1) {
      errors.push(`${at}: matches ${matching} branches of oneOf, not exactly one` +
                  (matching === 0 ? ` (${results.map((r) => r[0]).join("; ")})` : ""));
    }
  }
  return errors;
}

const deref = (node) => (node?.$ref ? deref(resolve(node.$ref)) : node);

// ---- requests ------------------------------------------------------------------------------

let fixture;
const tokens = {};
const seen = new Set();  // "<template> <status>" answered and checked

before(async () => {
  fixture = await startFixtureServer();
  tokens.admin = fixture.adminToken;
  tokens.tenant = fixture.tenantToken;
});

after(() => fixture?.close());

const kCodes = { 400: "bad_parameter", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
                 500: "internal", 503: "unavailable" };

/// The operation of `pathname` (below /api/v1): {template, operation} or null.
function operationOf(pathname) {
  for (const [template, item] of Object.entries(spec.paths)) {
    const pattern = new RegExp(`^${template.replace(/[.]/g, "\\.").replace(/\{[^}]+\}/g, "[^/]+")}$`);
    if (pattern.test(pathname) && item.get) return { template, operation: item.get };
  }
  return null;
}

/// Requests `target` (a path below /api/v1 with its query) as `as` (admin, tenant, none or an
/// Authorization header), expects `status`, and checks the answer against the description.
/// Resolves to the parsed body (null for HEAD and YAML).
async function expect(status, target, { as = "admin", method = "GET" } = {}) {
  const headers = {};
  if (as === "admin" || as === "tenant") headers.Authorization = `Bearer ${tokens[as]}`;
  else if (as !== "none") headers.Authorization = as;
  const response = await fetch(`${fixture.url.replace(/\/$/, "")}${apiBase}${target}`, { method, headers });
  const text = await response.text();
  const what = `${method} ${target} (${as})`;
  assert.equal(response.status, status, `${what}: status ${response.status}, expected ${status}: ${text.slice(0, 300)}`);
  const pathname = decodeURIComponent(new URL(target, "http://x").pathname);
  const found = operationOf(pathname);
  let described;
  if (status === 405) {
    // Any path, any method but GET and HEAD: the description says so once, for every route.
    assert.equal(response.headers.get("allow"), "GET, HEAD", `${what}: a 405 carries Allow: GET, HEAD`);
    described = { headers: { "Cache-Control": { $ref: "#/components/headers/CacheControl" } },
                  content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } };
  } else if (found) {
    described = deref(found.operation.responses[String(status)]);
    assert.ok(described, `${what}: ${status} is not described for GET ${found.template}`);
    seen.add(`${found.template} ${status}`);
  } else {
    // No such route: the description's "unknown paths answer 404 not_found".
    assert.equal(status, 404, `${what}: a path the description does not have answers 404`);
    described = { headers: { "Cache-Control": { $ref: "#/components/headers/CacheControl" } },
                  content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } };
  }
  for (const [name, header] of Object.entries(described.headers ?? {})) {
    const value = response.headers.get(name);
    assert.ok(value !== null, `${what}: header ${name} is missing`);
    const errors = check(deref(header).schema, value, name);
    assert.deepEqual(errors, [], `${what}: header ${name}`);
  }
  const [mediaType, media] = Object.entries(described.content ?? {})[0] ?? [];
  const type = response.headers.get("content-type") ?? "";
  if (mediaType === "application/json") {
    assert.equal(type, "application/json; charset=utf-8", `${what}: content type`);
  } else if (mediaType) {
    assert.ok(type.startsWith(mediaType), `${what}: content type ${type}, described ${mediaType}`);
  }
  if (method === "HEAD") {
    assert.equal(text, "", `${what}: HEAD has no body`);
    return null;
  }
  if (mediaType !== "application/json") return text;
  const body = JSON.parse(text);
  assert.deepEqual(check(media.schema, body), [], `${what}: the body does not match the description`);
  if (status >= 400) {
    assert.equal(body.error.status, status, `${what}: error.status repeats the HTTP status`);
    assert.equal(body.error.code, kCodes[status], `${what}: the code of a ${status}`);
  }
  return body;
}

/// Every operation of the description with its path parameters filled in (`tenant`, `id`) and
/// its required query parameters given their first value.
function concreteRoutes({ tenant, id }) {
  return Object.entries(spec.paths).filter(([, item]) => item.get).map(([template, item]) => {
    const required = [...(item.parameters ?? []), ...(item.get.parameters ?? [])].map(deref)
      .filter((p) => p.in === "query" && p.required);
    const query = required.map((p) => `${p.name}=${encodeURIComponent(deref(p.schema).enum[0])}`).join("&");
    return { template, operation: item.get,
             target: template.replace("{tenant}", tenant).replace("{id}", id) + (query ? `?${query}` : "") };
  });
}

// ---- the tests -----------------------------------------------------------------------------

test("the description's own examples match its schemas", () => {
  const problems = [];
  const walkMedia = (where, media) => {
    if (!media?.schema) return;
    if (media.example !== undefined) problems.push(...check(media.schema, media.example, `${where} example`));
    for (const [name, ex] of Object.entries(media.examples ?? {})) {
      problems.push(...check(media.schema, deref(ex).value, `${where} examples.${name}`));
    }
  };
  for (const [template, item] of Object.entries(spec.paths)) {
    for (const [status, response] of Object.entries(item.get.responses)) {
      for (const [type, media] of Object.entries(deref(response).content ?? {})) {
        walkMedia(`GET ${template} ${status} ${type}`, media);
      }
    }
  }
  for (const [name, response] of Object.entries(spec.components.responses ?? {})) {
    for (const [type, media] of Object.entries(response.content ?? {})) walkMedia(`responses.${name} ${type}`, media);
  }
  for (const [name, schema] of Object.entries(spec.components.schemas)) {
    for (const [i, example] of (schema.examples ?? []).entries()) {
      problems.push(...check(schema, example, `schemas.${name}.examples[${i}]`));
    }
  }
  assert.deepEqual(problems, []);
});

test("the fixture serves docs/openapi.yaml as the C++ does, without a token", async () => {
  const text = await expect(200, "/openapi.yaml", { as: "none" });
  assert.equal(text, fs.readFileSync(openapiFile, "utf8"));
  await expect(200, "/openapi.yaml", { as: "none", method: "HEAD" });
});

test("every route: 200 (and HEAD) for an admin, 401 without a valid token, 405 for POST; " +
     "400 for a bad {tenant}, 404 for another tenant's", async () => {
  const list = await expect(200, "/tenants/1/incidents");
  const routes = concreteRoutes({ tenant: "1", id: list.incidents[0].id });
  for (const { template, operation, target } of routes) {
    await expect(200, target);
    await expect(200, target, { method: "HEAD" });
    await expect(405, target, { method: "POST" });
    if (operation.security && operation.security.length === 0) continue;
    await expect(401, target, { as: "none" });
    await expect(401, target, { as: "Bearer not-a-token" });
    await expect(401, target, { as: `Basic ${Buffer.from("a:b").toString("base64")}` });
  }
  const other = await expect(200, "/tenants/2/incidents");
  for (const [i, { template }] of routes.entries()) {
    if (!template.includes("{tenant}")) continue;
    for (const bad of ["0", "abc", "4294967296", "00000000000000000001x"]) {
      await expect(400, concreteRoutes({ tenant: bad, id: "ff" })[i].target);
    }
    await expect(404, concreteRoutes({ tenant: "2", id: other.incidents[0].id })[i].target, { as: "tenant" });
    await expect(404, concreteRoutes({ tenant: "99", id: "ff" })[i].target);
  }
});

test("tenants, exporters and sampling match, in every shape the fixture has", async () => {
  const { tenants } = await expect(200, "/tenants");
  assert.ok(tenants.length >= 3, "the fixture has three tenants");
  for (const t of tenants) {
    await expect(200, `/tenants/${t.id}`);
    const { exporters } = await expect(200, `/tenants/${t.id}/exporters`);
    assert.ok(exporters.every((e) => e.tenant_id === t.id));
    const sampling = await expect(200, `/tenants/${t.id}/sampling`);
    // Not under the sampler: no rates (rest_system.cpp).
    if (sampling.target === 0) assert.deepEqual([sampling.arrival_rate, sampling.kept_rate], [null, null]);
  }
  assert.ok(tenants.some((t) => t.name === "" && t.first_seen_ms === null), "a tenant known only from live traffic");
  const { exporters } = await expect(200, "/exporters");
  const silent = exporters.filter((e) => e.status === "silent");
  assert.ok(silent.length > 0, "a silent exporter");
  for (const e of silent) {
    assert.equal(e.live, false);
    assert.deepEqual([e.packets_per_s, e.records_per_s, e.bytes_total, e.templates, e.parked_total,
                      e.malformed_by_reason, e.rejected_records_total, e.sampling.rate,
                      e.sampling.records_unknown_total, e.sampling.known],
                     [null, null, null, null, null, null, null, null, null, false], `silent ${e.address}`);
  }
  assert.ok(exporters.some((e) => e.live && e.tenant_id === null), "a live exporter of no tenant");
  assert.ok(silent.some((e) => e.tenant_id === null), "a silent exporter of no tenant (tenant_id null, not 0)");
  assert.ok(exporters.some((e) => e.live && e.first_seen_ms === null), "a live exporter the store does not know");
  assert.deepEqual(exporters.map((e) => e.address), exporters.map((e) => e.address).sort(), "by address");
  const mine = await expect(200, "/exporters", { as: "tenant" });
  assert.ok(mine.exporters.every((e) => e.tenant_id === 1));
  assert.equal((await expect(200, "/tenants", { as: "tenant" })).tenants.length, 1);
  await expect(200, "/me", { as: "tenant" });
  const health = await expect(200, "/health", { as: "tenant" });
  assert.deepEqual(Object.keys(health).sort(), ["now_ms", "role", "status", "version"]);
});

test("traffic, top and geo match for every split, step and source", async () => {
  const kKeys = { total: ["total"], direction: ["unknown", "inbound", "outbound", "internal", "transit"],
                  protocol: ["tcp", "udp", "icmp", "other"] };
  for (const tenant of [1, 2, 3]) {
    for (const by of Object.keys(kKeys)) {
      for (const query of ["", "&from=-6h", "&from=-1h&step=10s", "&from=-7d&step=1d", "&from=-2h&step=7m"]) {
        const body = await expect(200, `/tenants/${tenant}/traffic?by=${by}${query}`);
        assert.deepEqual(body.series.map((s) => s.key), kKeys[by], "every key of `by`, in order");
        assert.equal(body.source, body.step_s === 10 ? "live" : "rollups");
      }
    }
    for (const kind of ["sources", "destinations", "ports"]) {
      await expect(200, `/tenants/${tenant}/top?kind=${kind}`);
      await expect(200, `/tenants/${tenant}/top?kind=${kind}&from=-1h&limit=2`);
    }
    await expect(200, `/tenants/${tenant}/geo`);
    await expect(200, `/tenants/${tenant}/geo?from=-24h&limit=1`);
  }
  const live = await expect(200, "/tenants/3/top?kind=ports");
  assert.equal(live.source, "live", "a tenant without stored minutes: the latest live window");
  const ports = await expect(200, "/tenants/1/top?kind=ports&limit=100");
  assert.ok(ports.items.every((i) => /^(tcp|udp|[0-9]+)\/[0-9]+$/.test(i.key)), "ports as port_name writes them");
});

test("incidents match: lists with every filter, and each incident", async () => {
  for (const query of ["", "?state=open", "?state=closed&severity=critical", "?type=anomaly", "?since=-15m",
                       "?since=-1h&until=-20m", "?limit=1&offset=1", "?tenant=2",
                       "?since=2026-01-01t00:00:00z", "?since=2026-01-01%2000:00:00Z",
                       "?until=2999-01-01T00:00:00.123456789%2B01:00", "?since=1000"]) {
    await expect(200, `/incidents${query}`);
  }
  await expect(200, "/incidents", { as: "tenant" });
  for (const tenant of [1, 2, 3]) {
    const { incidents } = await expect(200, `/tenants/${tenant}/incidents?limit=1000`);
    for (const inc of incidents) {
      const one = await expect(200, `/tenants/${tenant}/incidents/${inc.id}`);
      const ev = one.evidence;
      // rest_incidents.cpp: the explanation is the evidence, read only for an anomaly led by its score.
      if (one.type === "anomaly" && ev[0]?.name === "anomaly_score") {
        assert.deepEqual(one.explanation, { score: ev[0].value, threshold: ev[0].threshold,
          features: ev.slice(1).map(({ name, value, usual }) => ({ name, value, usual })) });
      } else {
        assert.equal(one.explanation, null);
      }
      assert.ok(one.top_ports.every((p) => /^[0-9]+$/.test(p.key)), "an incident's ports are bare numbers");
    }
  }
});

test("bad parameters and unknown tenants answer as the C++ does", async () => {
  const cases = [
    // {tenant}: not a tenant id
    [400, "/tenants/abc"], [400, "/tenants/0"], [400, "/tenants/4294967296"], [400, "/tenants/-1"],
    [400, "/tenants/+1/exporters"], [400, "/tenants/1x/traffic"],
    // unknown, repeated, malformed
    [400, "/me?x=1"], [400, "/health?verbose=1"], [400, "/tenants/1?x"], [400, "/tenants/1/incidents?tenant=1"],
    [400, "/incidents?limit=1&limit=2"], [400, "/tenants/1/traffic?by=total&by=total"],
    [400, "/incidents?limit=1e2"], [400, "/incidents?limit=0"], [400, "/incidents?limit=1001"], [400, "/incidents?offset=-1"],
    [400, "/incidents?type=nonsense"], [400, "/incidents?state=OPEN"], [400, "/incidents?severity=urgent"],
    [400, "/incidents?since=-0m"], [400, "/incidents?since=-1m&until=-2m"], [400, "/incidents?since=now&until=now"],
    [400, "/incidents?since=2026-02-30T00:00:00Z"], [400, "/incidents?since=2026-01-01T00:00:00"],
    [400, "/incidents?since=yesterday"], [400, "/incidents?tenant=0"], [400, "/incidents?tenant=abc"],
    [400, "/tenants/1/traffic?step=20s"], [400, "/tenants/1/traffic?step=0m"], [400, "/tenants/1/traffic?step=90s"],
    [400, "/tenants/1/traffic?by=host"], [400, "/tenants/1/traffic?from=-30d&step=10s"],
    [400, "/tenants/1/traffic?from=now"], [400, "/tenants/1/top"], [400, "/tenants/1/top?kind=asns"],
    [400, "/tenants/1/top?kind=ports&limit=101"], [400, "/tenants/1/geo?limit=251"],
    [400, "/tenants/1/geo?from=-1m&to=-2m"],
    // another tenant's, or no tenant
    [404, "/tenants/99"], [404, "/tenants/99/exporters"], [404, "/tenants/99/traffic"], [404, "/tenants/99/top?kind=bad"],
    [404, "/tenants/99/geo"], [404, "/tenants/99/incidents"], [404, "/tenants/99/sampling"], [404, "/incidents?tenant=99"],
    [404, "/tenants/1/incidents/ffffffffffffffff"], [404, "/tenants/1/incidents/not-hex"],
    [404, "/nonsense"], [404, "/tenants/1/nonsense"], [404, ""], [404, "/tenants/1/incidents/x/y"]];
  for (const [status, target] of cases) await expect(status, target);
  for (const target of ["/tenants/2", "/tenants/2/exporters", "/tenants/2/traffic", "/tenants/2/top?kind=ports",
                        "/tenants/2/geo", "/tenants/2/incidents", "/tenants/2/sampling", "/incidents?tenant=2",
                        "/tenants/2/incidents/91b3e07c2d4a6f15"]) {
    await expect(404, target, { as: "tenant" });
  }
  await expect(405, "/tenants", { method: "DELETE" });
  await expect(405, "/openapi.yaml", { method: "PUT", as: "none" });
});

test("every operation was answered and checked: 200 everywhere, 400 and 404 where it has {tenant}", () => {
  const missing = [];
  for (const [template, item] of Object.entries(spec.paths)) {
    const needed = ["200"];
    if (template.includes("{tenant}")) needed.push("400", "404");
    if (!(item.get.security && item.get.security.length === 0)) needed.push("401");
    for (const status of needed) {
      if (!item.get.responses[status]) continue;  // check_openapi.py holds the description to the router
      if (!seen.has(`${template} ${status}`)) missing.push(`GET ${template} ${status}`);
    }
  }
  assert.deepEqual(missing, []);
});
