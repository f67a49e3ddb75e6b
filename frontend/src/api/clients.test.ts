import { afterEach, describe, expect, it, vi } from 'vitest';
import { clients, connectBody } from './clients';
import { setTransport, type Transport } from './transport';

function fake(status: number, body: unknown): Transport & { request: ReturnType<typeof vi.fn> } {
  return { kind: 'browser', request: vi.fn(async () => ({ status, body })) };
}
afterEach(() => setTransport(null));

describe('clients API', () => {
  it('sends only what is set (the gateway fills the models from its routes)', () => {
    expect(connectBody()).toEqual({});
    expect(connectBody({ models: {}, force: false })).toEqual({});
    expect(connectBody({ subscription: true })).toEqual({ subscription: true });
    expect(connectBody({ subscription: false })).toEqual({});
    expect(connectBody({ models: { model: 'claude-sonnet-5' }, force: true })).toEqual({ models: { model: 'claude-sonnet-5' }, force: true });
  });

  it('lists, previews, connects and disconnects by name', async () => {
    const t = fake(200, { gateway: 'http://127.0.0.1:4000', clients: [] });
    setTransport(t);
    await clients.list();
    expect(t.request).toHaveBeenLastCalledWith('GET', '/admin/api/clients', undefined);
    await clients.preview('claude-code', { models: { haiku: 'gpt-4o-mini' } });
    expect(t.request).toHaveBeenLastCalledWith('POST', '/admin/api/clients/claude-code/preview', { models: { haiku: 'gpt-4o-mini' } });
    await clients.connect('codex', { force: true });
    expect(t.request).toHaveBeenLastCalledWith('POST', '/admin/api/clients/codex/connect', { force: true });
    await clients.disconnect('a b');
    expect(t.request).toHaveBeenLastCalledWith('POST', '/admin/api/clients/a%20b/disconnect', {});
  });

  it('a refused connect is an ApiError with the gateway’s code', async () => {
    setTransport(fake(409, { error: { message: 'requests would loop: provider "self"', type: 'invalid_request_error', code: 'routing_loop' } }));
    await expect(clients.connect('codex')).rejects.toMatchObject({ code: 'routing_loop', status: 409 });
  });
});
