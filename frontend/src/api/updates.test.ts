import { afterEach, describe, expect, it, vi } from 'vitest';
import { restartApp, onDesktopEvent, setTransport, type Transport } from './transport';
import { updates } from './updates';

function fake(status: number, body: unknown): Transport & { request: ReturnType<typeof vi.fn> } {
  return { kind: 'browser', request: vi.fn(async () => ({ status, body })) };
}

afterEach(() => setTransport(null));

describe('updates API', () => {
  it('checks with an optional manifest URL', async () => {
    const t = fake(200, { version: '0.1.0', configured: false, message: 'no URL' });
    setTransport(t);
    await expect(updates.check()).resolves.toMatchObject({ configured: false });
    expect(t.request).toHaveBeenCalledWith('GET', '/admin/api/update/check', undefined);
    await updates.check('http://127.0.0.1:9/manifest.json');
    expect(t.request).toHaveBeenLastCalledWith('GET', '/admin/api/update/check?manifest_url=http%3A%2F%2F127.0.0.1%3A9%2Fmanifest.json', undefined);
  });

  it('applies (or dry-runs) and rolls back with POST', async () => {
    const t = fake(200, { outcome: 'dry_run', from: '0.1.0', to: '0.2.0', binary: '/b' });
    setTransport(t);
    await updates.apply({ dry_run: true });
    expect(t.request).toHaveBeenCalledWith('POST', '/admin/api/update/apply', { dry_run: true });
    await updates.rollback();
    expect(t.request).toHaveBeenLastCalledWith('POST', '/admin/api/update/rollback', {});
  });

  it('a refused update is an ApiError with the gateway’s code', async () => {
    setTransport(fake(400, { error: { message: 'checksum mismatch', type: 'invalid_request_error', code: 'update_failed' } }));
    await expect(updates.apply()).rejects.toMatchObject({ code: 'update_failed', message: 'checksum mismatch', status: 400 });
  });
});

describe('restartApp', () => {
  it('invokes restart_app in the desktop window', async () => {
    const invoke = vi.fn(async () => null);
    await restartApp({ __TAURI__: { core: { invoke } } });
    expect(invoke).toHaveBeenCalledWith('restart_app');
  });

  it('throws not_desktop in a browser', async () => {
    await expect(restartApp({})).rejects.toMatchObject({ code: 'not_desktop' });
  });

  it('keeps the desktop app’s error code', async () => {
    const invoke = vi.fn(async () => Promise.reject({ code: 'restart_failed', message: 'busy' }));
    await expect(restartApp({ __TAURI__: { core: { invoke } } })).rejects.toMatchObject({ code: 'restart_failed', message: 'busy' });
  });
});

describe('onDesktopEvent', () => {
  it('is a no-op in a browser', () => {
    const off = onDesktopEvent('update-check', () => {}, {});
    expect(off).toBeTypeOf('function');
    off();
  });

  it('passes payloads and unlistens', async () => {
    let handler: ((e: { payload: unknown }) => void) | undefined;
    const unlisten = vi.fn();
    const listen = vi.fn(async (_name: string, h: (e: { payload: unknown }) => void) => {
      handler = h;
      return unlisten;
    });
    const seen = vi.fn();
    const off = onDesktopEvent('update-check', seen, { __TAURI__: { core: { invoke: vi.fn() }, event: { listen } } });
    await Promise.resolve();
    await Promise.resolve();
    expect(listen).toHaveBeenCalledWith('update-check', expect.any(Function));
    handler?.({ payload: { ok: true } });
    expect(seen).toHaveBeenCalledWith({ ok: true });
    off();
    expect(unlisten).toHaveBeenCalled();
  });

  it('unlistens even when stopped before listening finished', async () => {
    const unlisten = vi.fn();
    const listen = vi.fn(async () => unlisten);
    const off = onDesktopEvent('update-check', () => {}, { __TAURI__: { core: { invoke: vi.fn() }, event: { listen } } });
    off();
    await Promise.resolve();
    await Promise.resolve();
    expect(unlisten).toHaveBeenCalled();
  });
});
