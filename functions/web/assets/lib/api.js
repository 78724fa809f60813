// Calls to this origin's API. The session (a bearer token) lives in this origin's storage only:
// each tenant host, the console and the central login are separate origins, so a script on one
// can never read another's token. Every failure becomes an `ApiError` with the API's code and
// human message; an expired or revoked session sends the user back to sign in.

const SESSION = 'taskifai.session';
const NOTICE = 'taskifai.notice';
/** The codes of a 401 that mean the token itself is no longer accepted. */
const TOKEN_REFUSED = ['invalid_token', 'token_expired', 'missing_token'];

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const session = {
  /** The stored session, expired or not. */
  stored() {
    try {
      return JSON.parse(localStorage.getItem(SESSION));
    } catch {
      return null;
    }
  },
  /** The session while its token is valid. */
  get() {
    const s = session.stored();
    return s && s.expires_at > Date.now() ? s : null;
  },
  /** Keeps a `{access_token, expires_in, password_change_required?}` answer. */
  set(answer) {
    localStorage.setItem(SESSION, JSON.stringify({
      token: answer.access_token,
      expires_at: Date.now() + answer.expires_in * 1000,
      password_change_required: Boolean(answer.password_change_required),
    }));
  },
  clear() {
    localStorage.removeItem(SESSION);
  },
};

/** A message for the next page (e.g. the sign-in page after an expiry). */
export const flash = {
  set(message) { sessionStorage.setItem(NOTICE, message); },
  take() {
    const message = sessionStorage.getItem(NOTICE);
    sessionStorage.removeItem(NOTICE);
    return message;
  },
};

let expired = () => {};

/** What to do when the session ends under the user (usually: show the sign-in page). */
export function onSessionExpired(handler) {
  expired = handler;
}

function sessionEnded() {
  session.clear();
  flash.set('Your session has expired. Please sign in again.');
  expired();
  return new ApiError(401, 'session_expired', 'Your session has expired. Please sign in again.');
}

/** `query`'s non-empty entries as a query string (with its `?`). */
export function queryString(query) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query || {})) {
    if (value != null && value !== '') params.set(key, value);
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

/**
 * `api('GET', '/api/uploads/batches', {query: {limit: 20}})` → the parsed JSON (null for 204).
 * `raw: true` gives the `Response` (downloads). `headers` adds request headers.
 */
export async function api(method, path, { body, query, raw, headers: extra } = {}) {
  const headers = { ...extra };
  // A session that has run out is not sent; the API's 401 then tells the user it ended.
  const stored = session.stored();
  if (stored && stored.expires_at > Date.now()) headers.authorization = `Bearer ${stored.token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res;
  try {
    res = await fetch(path + queryString(query), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'network_error', 'The server could not be reached. Check your connection and try again.');
  }
  if (!res.ok) {
    const answer = await res.json().catch(() => null);
    // Only a refused token ends the session (a wrong current password is a 401 too).
    if (res.status === 401 && stored && TOKEN_REFUSED.includes(answer?.error?.code)) throw sessionEnded();
    throw new ApiError(res.status, answer?.error?.code ?? `http_${res.status}`,
      answer?.error?.message ?? answer?.message ?? `The server answered ${res.status}. Please try again.`);
  }
  if (raw) return res;
  return res.status === 204 ? null : res.json();
}

/** A new idempotency key (one per user action, reused on its retries). */
export function newKey() {
  return crypto.randomUUID();
}
