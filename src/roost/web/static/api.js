// The key, HTTP calls and errors. The key lives in sessionStorage: gone with the tab.
const KEY = "roost.key";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}
export class Offline extends Error {}

export const key = {
  get: () => sessionStorage.getItem(KEY) || "",
  set: (value) => sessionStorage.setItem(KEY, value),
  clear: () => sessionStorage.removeItem(KEY),
};

export async function api(path, { method = "GET", body, text = false } = {}) {
  const response = await send(path, { method, body });
  return text ? response.text() : response.json();
}

// The response of a successful call, its body unread (for streams); `signal` aborts it.
export async function send(path, { method = "GET", body, signal } = {}) {
  const headers = { Authorization: `Bearer ${key.get()}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      signal,
    });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new Offline(String(err));
  }
  if (!response.ok) {
    let code = "http_" + response.status;
    let message = response.statusText || "request failed";
    try {
      const data = await response.json();
      const error = data.error || data.detail || data;
      code = error.code || code;
      message = error.message || (typeof error === "string" ? error : message);
    } catch { /* not JSON: keep the status line */ }
    throw new ApiError(response.status, code, message);
  }
  return response;
}

export function wsUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/api/ws?token=${encodeURIComponent(key.get())}`;
}
