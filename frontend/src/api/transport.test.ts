import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  ApiError,
  browserTransport,
  call,
  errorFromResponse,
  onUnauthorized,
  query,
  selectTransport,
  setTransport,
  tauriTransport,
  toApiError,
  type Transport,
} from './transport';

describe('errorFromResponse', () => {
  it('reads the gateway error shape', () => {
    const e = errorFromResponse(409, { error: { message: 'the live config is version 4, not 3', type: 'invalid_request_error', code: 'version_conflict' } });
    expect(e).toBeInstanceOf(ApiError);
    expect(e.toJSON()).toEqual({ code: 'version_conflict', message: 'the live config is version 4, not 3' });
    expect(e.status).toBe(409);
  });

  it('falls back to the type, then to the status, for the code', () => {
    expect(errorFromResponse(400, { error: { message: 'bad', type: 'invalid_request_error' } }).code).toBe('invalid_request_error');
    expect(errorFromResponse(502, { error: { message: 'x' } }).code).toBe('http_502');
  });

  it('keeps extra fields, e.g. the validation of a refused publish', () => {
    const validation = { valid: false, errors: [{ path: 'routes[0]', line: 3, column: 1, message: 'unknown provider' }], warnings: [] };
    const e = errorFromResponse(422, { error: { message: 'config is invalid; nothing was applied', code: 'invalid_config' }, validation });
    expect(e.code).toBe('invalid_config');
    expect(e.details.validation).toEqual(validation);
  });

  it('gives words when the body has none', () => {
    const e = errorFromResponse(401, null);
    expect(e.code).toBe('unauthorized');
    expect(e.message).toMatch(/not logged in/);
    expect(errorFromResponse(404, '').message).toBe('Not found');
    expect(errorFromResponse(599, undefined).message).toBe('The gateway answered HTTP 599');
  });

  it('uses short plain-text bodies but not HTML pages', () => {
    expect(errorFromResponse(500, 'disk full').message).toBe('disk full');
    expect(errorFromResponse(500, '<html><body>oops</body></html>').message).toBe('The gateway hit an internal error');
  });

  it('accepts {message, code} and {error: "text"}', () => {
    expect(errorFromResponse(400, { message: 'nope', code: 'x' }).toJSON()).toEqual({ code: 'x', message: 'nope' });
    expect(errorFromResponse(400, { error: 'plain' }).message).toBe('plain');
  });
});

describe('toApiError', () => {
  it('turns network failures into words', () => {
    const e = toApiError(new TypeError('Failed to fetch'));
    expect(e.code).toBe('network_error');
    expect(e.message).toMatch(/Cannot reach the gateway/);
  });
  it('keeps {code, message} objects from the desktop app', () => {
    expect(toApiError({ code: 'port_in_use', message: 'port 4000 is taken' }).toJSON()).toEqual({ code: 'port_in_use', message: 'port 4000 is taken' });
  });
  it('never yields a bare string', () => {
    expect(toApiError('ipc failed')).toBeInstanceOf(ApiError);
    expect(toApiError(undefined).message).toMatch(/no reason/);
  });
});

describe('transport selection', () => {
  it('uses fetch in a browser', () => {
    expect(selectTransport({}).kind).toBe('browser');
    expect(selectTransport({ __TAURI__: {} }).kind).toBe('browser');
  });
  it('uses the Tauri command inside the desktop window', () => {
    const invoke = vi.fn();
    expect(selectTransport({ __TAURI__: { core: { invoke } } }).kind).toBe('tauri');
  });
});

describe('browser transport', () => {
  it('sends JSON same-origin with the cookie and parses JSON', async () => {
    const fetchImpl = vi.fn(async () => new Response('{"ok":true}', { status: 200, headers: { 'content-type': 'application/json' } }));
    const t = browserTransport(fetchImpl as unknown as typeof fetch);
    const r = await t.request('POST', '/admin/api/login', { token: 't' });
    expect(r).toEqual({ status: 200, body: { ok: true } });
    const [path, init] = fetchImpl.mock.calls[0] as unknown as [string, RequestInit];
    expect(path).toBe('/admin/api/login');
    expect(init.credentials).toBe('same-origin');
    expect(init.body).toBe('{"token":"t"}');
    expect((init.headers as Record<string, string>)['content-type']).toBe('application/json');
  });
  it('sends no body on GET', async () => {
    const fetchImpl = vi.fn(async () => new Response(null, { status: 204 }));
    const r = await browserTransport(fetchImpl as unknown as typeof fetch).request('GET', '/admin/api/status');
    expect(r.body).toBeNull();
    expect((fetchImpl.mock.calls[0] as unknown as [string, RequestInit])[1].body).toBeUndefined();
  });
});

describe('tauri transport', () => {
  it('calls admin_request and parses a JSON string body', async () => {
    const invoke = vi.fn(async () => ({ status: 200, body: '{"version":"0.1.0"}' }));
    const r = await tauriTransport({ core: { invoke } }).request('GET', '/admin/api/status');
    expect(invoke).toHaveBeenCalledWith('admin_request', { method: 'GET', path: '/admin/api/status', body: null });
    expect(r).toEqual({ status: 200, body: { version: '0.1.0' } });
  });
  it('rejects a malformed answer with a code', async () => {
    const invoke = vi.fn(async () => 'weird');
    await expect(tauriTransport({ core: { invoke } }).request('GET', '/x')).rejects.toMatchObject({ code: 'ipc_error' });
  });
});

describe('call', () => {
  afterEach(() => setTransport(null));
  const fake = (status: number, body: unknown): Transport => ({ kind: 'browser', request: vi.fn(async () => ({ status, body })) });

  it('prefixes /admin/api and returns the body', async () => {
    const t = fake(200, { role: 'admin' });
    setTransport(t);
    await expect(call('GET', '/session')).resolves.toEqual({ role: 'admin' });
    expect(t.request).toHaveBeenCalledWith('GET', '/admin/api/session', undefined);
  });

  it('throws ApiError and tells listeners about 401', async () => {
    setTransport(fake(401, { error: { message: 'admin token required', type: 'authentication_error', code: 'unauthorized' } }));
    const seen = vi.fn();
    const off = onUnauthorized(seen);
    await expect(call('GET', '/status')).rejects.toMatchObject({ code: 'unauthorized', status: 401 });
    expect(seen).toHaveBeenCalledTimes(1);
    off();
  });

  it('maps a transport failure', async () => {
    setTransport({ kind: 'tauri', request: async () => Promise.reject('the gateway is not running') });
    await expect(call('GET', '/status')).rejects.toMatchObject({ code: 'ipc_error', message: 'the gateway is not running' });
  });
});

describe('query', () => {
  it('skips empty values', () => {
    expect(query({ minutes: 60, provider: '', model: undefined, route: null, limit: 0 })).toBe('?minutes=60&limit=0');
    expect(query({})).toBe('');
    expect(query({ model: 'a b/c' })).toBe('?model=a+b%2Fc');
  });
});
