// The REST API client (docs/api.md). Every failure becomes an ApiError with a sentence a
// person can read: HTTP errors carry the API's own message, a failed connection and a
// body that is not JSON say so. Nothing here throws anything else.

const kTokenKey = "fathom.token";

/// An API call that did not give the expected JSON. `status` is the HTTP status, or 0 when
/// the server was not reached or did not answer in JSON.
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function getToken() {
  try {
    return localStorage.getItem(kTokenKey);
  } catch {
    return null;  // storage disabled: the token lives only in this page
  }
}

export function setToken(token) {
  try {
    if (token) localStorage.setItem(kTokenKey, token);
    else localStorage.removeItem(kTokenKey);
  } catch {
    // storage disabled: nothing to keep
  }
}

let unauthorizedHandler = () => {};

/// `handler(error)` runs on every 401, after the token is forgotten.
export function onUnauthorized(handler) {
  unauthorizedHandler = handler;
}

/// GET `/api/v1/<path>` with `params` (undefined values left out). Resolves to the parsed
/// JSON; rejects with ApiError. `signal` aborts it (the view was left).
export async function get(path, params = {}, { signal, token = getToken() } = {}) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null) query.set(key, String(value));
  }
  const url = `./api/v1/${path}${query.toString() ? `?${query}` : ""}`;
  let response;
  try {
    response = await fetch(url, {
      headers: { Authorization: `Bearer ${token ?? ""}`, Accept: "application/json" },
      cache: "no-store",
      signal,
    });
  } catch (err) {
    if (err?.name === "AbortError") throw new ApiError(0, "aborted", "The request was cancelled.");
    throw new ApiError(0, "network", "Could not reach the Fathom server. Is it running?");
  }
  const text = await response.text().catch(() => "");
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    const error = body?.error;
    const message = typeof error?.message === "string" && error.message
      ? error.message
      : `The server answered ${response.status} ${response.statusText}.`.replace(" .", ".");
    const apiError = new ApiError(response.status, error?.code ?? "http", message);
    if (response.status === 401) {
      setToken(null);
      unauthorizedHandler(apiError);
    }
    throw apiError;
  }
  if (body === null || typeof body !== "object") {
    throw new ApiError(0, "malformed", `The server's answer to ${path} is not valid JSON.`);
  }
  return body;
}

/// `value` if it is an array, else an empty one: lists from the API are read through this so a
/// field that is missing or of the wrong type shows as empty instead of breaking the view.
export function list(value) {
  return Array.isArray(value) ? value : [];
}
