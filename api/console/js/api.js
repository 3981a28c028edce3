// Talking to /api/v1 with the session cookie: every write carries the CSRF token.
//   const page = await api.get("/events", {rule: ["fall"], limit: 50});
//   await api.post("/auth/login", {name, password});

export const BASE = "/api/v1";

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

function csrf() {
  const hit = document.cookie.split("; ").find((c) => c.startsWith("vigil_csrf="));
  return hit ? decodeURIComponent(hit.slice("vigil_csrf=".length)) : "";
}

/** A query string from an object; arrays repeat the parameter, empty values are left out. */
export function query(params = {}) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (v !== undefined && v !== null && v !== "") q.append(key, v);
    }
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

let onUnauthorized = () => {};
export function whenSignedOut(handler) {
  onUnauthorized = handler;
}

async function request(method, path, { params, json, form } = {}) {
  const headers = { Accept: "application/json" };
  let body;
  if (method !== "GET") headers["X-CSRF-Token"] = csrf();
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form) {
    body = form;
  }
  const response = await fetch(BASE + path + query(params), {
    method, headers, body, credentials: "same-origin",
  });
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = typeof data.detail === "string" ? data.detail
      : Array.isArray(data.detail) ? data.detail.map((d) => d.msg).join("; ")
      : `${response.status} ${response.statusText}`;
    if (response.status === 401 && path !== "/auth/login") onUnauthorized();
    throw new ApiError(response.status, detail);
  }
  return data;
}

export const api = {
  get: (path, params) => request("GET", path, { params }),
  post: (path, json) => request("POST", path, { json }),
  upload: (path, form) => request("POST", path, { form }),
  patch: (path, json) => request("PATCH", path, { json }),
  put: (path, json) => request("PUT", path, { json }),
  remove: (path, json) => request("DELETE", path, { json }),
};

/** An event as the stream sends it (a store record) in the API's shape. */
export function fromRecord(r) {
  const base = `/api/v1/events/${encodeURIComponent(r.id)}`;
  return {
    ...r,
    start_time: new Date(r.start_wall * 1000).toISOString(),
    end_time: new Date(r.end_wall * 1000).toISOString(),
    snapshot_url: r.snapshot_path ? `${base}/snapshot` : null,
    clip_url: r.clip_path ? `${base}/clip` : null,
  };
}
