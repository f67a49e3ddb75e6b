import { afterEach, describe, expect, it, vi } from 'vitest';
import { setTransport, type Transport } from './transport';
import { telemetry } from './telemetry';

function fake(status: number, body: unknown): Transport & { request: ReturnType<typeof vi.fn> } {
  return { kind: 'browser', request: vi.fn(async () => ({ status, body })) };
}

afterEach(() => setTransport(null));

describe('telemetry export and search', () => {
  it('exports the filtered, searched list as text', async () => {
    const t = fake(200, 'id,time_ms\nr1,1\n');
    setTransport(t);
    await expect(telemetry.exportText('csv', { provider: 'a', q: 'zebra', minutes: 60 })).resolves.toBe('id,time_ms\nr1,1\n');
    expect(t.request).toHaveBeenCalledWith('GET', '/admin/api/telemetry/export?format=csv&provider=a&q=zebra&minutes=60', undefined);
  });

  it('a one-row JSON Lines file (parsed as JSON by the transport) stays one line', async () => {
    setTransport(fake(200, { id: 'r1' }));
    await expect(telemetry.exportText('jsonl')).resolves.toBe('{"id":"r1"}\n');
  });

  it('a refused export is an ApiError with its code', async () => {
    setTransport(fake(400, { error: { message: 'limit must be 1 to 100000 rows', type: 'invalid_request_error', code: 'invalid_query' } }));
    await expect(telemetry.exportText('csv', {})).rejects.toMatchObject({ code: 'invalid_query' });
  });

  it('search goes to the request list as q', async () => {
    const t = fake(200, { items: [], next_cursor: null });
    setTransport(t);
    await telemetry.requests({ q: 'req-1', limit: 50 });
    expect(t.request).toHaveBeenCalledWith('GET', '/admin/api/telemetry/requests?q=req-1&limit=50', undefined);
  });
});
