// The public HTTP API. Errors come back as ApiError carrying the problem+json body.
import { config } from "./config.js";
import { idToken, refresh } from "./auth.js";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
    this.field = problem?.field;
  }
}

/** fetch the API; `auth` adds the bearer token (refreshed when due, and once more on a 401). */
/** `fresh` revalidates a cached answer (the catalog's GETs are cacheable for a minute). */
export async function api(method, path, { body, auth = false, headers = {}, fresh = false, retried = false } = {}) {
  const h = { ...headers };
  if (body !== undefined) h["Content-Type"] = "application/json";
  if (auth) {
    const token = await idToken();
    if (!token) throw new ApiError(401, { title: "You need to sign in", detail: "Please sign in first." });
    h.Authorization = `Bearer ${token}`;
  }
  let response;
  try {
    response = await fetch(config.apiUrl + path, {
      method,
      headers: h,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: fresh ? "no-cache" : "default",
    });
  } catch {
    throw new ApiError(0, { title: "Network error", detail: "The store cannot be reached. Check your connection and try again." });
  }
  if (response.status === 401 && auth && !retried && (await refresh())) {
    return api(method, path, { body, auth, headers, fresh, retried: true });
  }
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, data);
  return { data, status: response.status, etag: response.headers.get("ETag"), headers: response.headers };
}

export const query = (params) =>
  new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== "")).toString();
