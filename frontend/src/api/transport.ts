// One transport for every API module (STYLE §13, "one UI, two transports").
//
// - In a browser at /ui: same-origin `fetch` with the session cookie set by
//   `POST /admin/api/login`. A 401 means "log in".
// - In the desktop window (`window.__TAURI__` present): the Tauri command
//   `admin_request {method, path, body}` → `{status, body}`, which the desktop
//   app answers with the in-process admin token.
//
// Either way a failure reaches the UI as an `ApiError` with a `code` and a
// human `message` (from the gateway's `{"error":{"message","type","code"}}`),
// never as a bare string. The UI's own fallback words come from the catalogue.
import { t, type MessageKey } from '../i18n';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** What a transport answers: the HTTP status and the parsed JSON body (or text). */
export interface RawResponse {
  status: number;
  body: unknown;
}

export interface Transport {
  readonly kind: 'browser' | 'tauri';
  /** `path` is absolute from the gateway root, e.g. `/admin/api/status`. */
  request(method: Method, path: string, body?: unknown): Promise<RawResponse>;
}

/** An error as the UI shows it: a stable code and words for a person. */
export class ApiError extends Error {
  readonly code: string;
  readonly status: number;
  /** Extra structured data the gateway sent (e.g. `validation` on 422). */
  readonly details: Record<string, unknown>;

  constructor(code: string, message: string, status = 0, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = status;
    this.details = details;
  }

  toJSON(): { code: string; message: string } {
    return { code: this.code, message: this.message };
  }
}

/** Words for a status the gateway gave no message for (in the UI's language). */
const STATUS_KEYS: Record<number, MessageKey> = {
  400: 'transport.status_400',
  401: 'transport.status_401',
  403: 'transport.status_403',
  404: 'transport.status_404',
  409: 'transport.status_409',
  413: 'transport.status_413',
  422: 'transport.status_422',
  429: 'transport.status_429',
  500: 'transport.status_500',
  502: 'transport.status_502',
  503: 'transport.status_503',
  504: 'transport.status_504',
};
const statusWords = (status: number): string | undefined => (status in STATUS_KEYS ? t(STATUS_KEYS[status]) : undefined);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Maps a non-2xx response to an `ApiError`. Understands the gateway's
 * `{"error":{"message","type","code"}}`, a bare `{"message"}`, plain text,
 * and nothing at all.
 */
export function errorFromResponse(status: number, body: unknown): ApiError {
  if (isObject(body)) {
    const { error, ...rest } = body;
    if (isObject(error)) {
      const code =
        (typeof error.code === 'string' && error.code) ||
        (typeof error.type === 'string' && error.type) ||
        `http_${status}`;
      const message =
        typeof error.message === 'string' && error.message.trim()
          ? error.message
          : (statusWords(status) ?? `HTTP ${status}`);
      return new ApiError(code, message, status, rest);
    }
    if (typeof error === 'string') {
      return new ApiError(`http_${status}`, error, status, rest);
    }
    if (typeof body.message === 'string') {
      const code = typeof body.code === 'string' ? body.code : `http_${status}`;
      return new ApiError(code, body.message, status, rest);
    }
  }
  if (typeof body === 'string' && body.trim() && body.length < 500 && !body.trimStart().startsWith('<')) {
    return new ApiError(`http_${status}`, body.trim(), status);
  }
  const code = status === 401 ? 'unauthorized' : `http_${status}`;
  return new ApiError(code, statusWords(status) ?? t('transport.answered_http', { status }), status);
}

/** Anything thrown (fetch TypeError, Tauri rejection, ApiError) → ApiError. */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (isObject(e) && typeof e.code === 'string' && typeof e.message === 'string') {
    return new ApiError(e.code, e.message, typeof e.status === 'number' ? e.status : 0);
  }
  if (e instanceof TypeError) {
    return new ApiError(
      'network_error',
      t('transport.cannot_reach', { error: e.message }),
    );
  }
  if (e instanceof Error) return new ApiError('client_error', e.message);
  if (typeof e === 'string' && e.trim()) return new ApiError('ipc_error', e);
  return new ApiError('unknown_error', t('transport.unknown_error'));
}

async function parseBody(res: Response): Promise<unknown> {
  const text = await res.text();
  if (!text) return null;
  const type = res.headers.get('content-type') ?? '';
  if (type.includes('json') || /^[[{]/.test(text.trimStart())) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

/** Same-origin `fetch` with the session cookie. */
export function browserTransport(fetchImpl: typeof fetch = (...a) => fetch(...a)): Transport {
  return {
    kind: 'browser',
    async request(method, path, body) {
      const init: RequestInit = {
        method,
        credentials: 'same-origin',
        headers: { accept: 'application/json' },
      };
      if (body !== undefined) {
        init.headers = { ...init.headers, 'content-type': 'application/json' };
        init.body = JSON.stringify(body);
      }
      const res = await fetchImpl(path, init);
      return { status: res.status, body: await parseBody(res) };
    },
  };
}

/** The subset of `window.__TAURI__` the UI uses. */
export interface TauriGlobal {
  core: { invoke: (cmd: string, args?: Record<string, unknown>) => Promise<unknown> };
  /** Present with `withGlobalTauri`; events the desktop app emits (e.g. `update-check`). */
  event?: { listen: (event: string, handler: (e: { payload: unknown }) => void) => Promise<() => void> };
}

/** `window.__TAURI__` when the UI runs in the desktop window, else null. */
function tauriGlobal(win: unknown): TauriGlobal | null {
  const tauri = isObject(win) ? (win as { __TAURI__?: unknown }).__TAURI__ : undefined;
  if (isObject(tauri) && isObject(tauri.core) && typeof tauri.core.invoke === 'function') {
    return tauri as unknown as TauriGlobal;
  }
  return null;
}

/** `admin_request` in the desktop app, which adds the in-process admin token. */
export function tauriTransport(tauri: TauriGlobal): Transport {
  return {
    kind: 'tauri',
    async request(method, path, body) {
      const out = await tauri.core.invoke('admin_request', { method, path, body: body ?? null });
      if (!isObject(out) || typeof out.status !== 'number') {
        throw new ApiError('ipc_error', t('transport.unexpected_ipc_answer'));
      }
      let parsed: unknown = out.body ?? null;
      if (typeof parsed === 'string' && /^[[{]/.test(parsed.trimStart())) {
        try {
          parsed = JSON.parse(parsed);
        } catch {
          /* keep the text */
        }
      }
      return { status: out.status, body: parsed };
    },
  };
}

/** Picks the transport for where the UI runs. */
export function selectTransport(win: unknown = globalThis): Transport {
  const tauri = tauriGlobal(win);
  return tauri ? tauriTransport(tauri) : browserTransport();
}

/**
 * Restarts the desktop app (its `restart_app` command stops the gateway
 * gracefully first). A browser cannot restart the gateway: this throws
 * `not_desktop` there.
 */
export async function restartApp(win: unknown = globalThis): Promise<void> {
  const tauri = tauriGlobal(win);
  if (!tauri) {
    throw new ApiError('not_desktop', t('transport.not_desktop'));
  }
  try {
    await tauri.core.invoke('restart_app');
  } catch (e) {
    throw toApiError(e);
  }
}

/**
 * Listens to an event the desktop app emits (e.g. `update-check` after a
 * tray check) and returns the unsubscribe function. A no-op in a browser.
 */
export function onDesktopEvent(name: string, fn: (payload: unknown) => void, win: unknown = globalThis): () => void {
  const listen = tauriGlobal(win)?.event?.listen;
  if (typeof listen !== 'function') return () => {};
  let stopped = false;
  let unlisten: (() => void) | null = null;
  Promise.resolve(listen(name, (e) => fn(e?.payload))).then(
    (u) => {
      if (stopped) u();
      else unlisten = u;
    },
    () => {
      /* no event API: nothing to listen to */
    },
  );
  return () => {
    stopped = true;
    unlisten?.();
  };
}

type UnauthorizedListener = (e: ApiError) => void;
const unauthorizedListeners = new Set<UnauthorizedListener>();

/** Called on every 401 (the shell then shows the login page). */
export function onUnauthorized(fn: UnauthorizedListener): () => void {
  unauthorizedListeners.add(fn);
  return () => unauthorizedListeners.delete(fn);
}

let current: Transport | null = null;

export function transport(): Transport {
  current ??= selectTransport();
  return current;
}

/** For tests and the e2e harness. */
export function setTransport(t: Transport | null): void {
  current = t;
}

/**
 * Calls the admin API and returns the JSON body, or throws an `ApiError`.
 * `path` is relative to `/admin/api`, e.g. `/status`.
 */
export async function call<T>(method: Method, path: string, body?: unknown): Promise<T> {
  let res: RawResponse;
  try {
    res = await transport().request(method, '/admin/api' + path, body);
  } catch (e) {
    throw toApiError(e);
  }
  if (res.status >= 200 && res.status < 300) return res.body as T;
  const err = errorFromResponse(res.status, res.body);
  if (res.status === 401) unauthorizedListeners.forEach((fn) => fn(err));
  throw err;
}

/** Builds a query string from the set (non-empty) values. */
export function query(params: Record<string, string | number | boolean | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    q.set(k, String(v));
  }
  const s = q.toString();
  return s ? '?' + s : '';
}
