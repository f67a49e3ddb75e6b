import { describe, expect, it } from 'vitest';
import { ApiError } from '../api/transport';
import { runAction } from './hooks';

/** The state runAction writes, as a log of calls. */
function recorder() {
  const log: string[] = [];
  const errors: (ApiError | undefined)[] = [];
  const handled: ApiError[] = [];
  return {
    log,
    errors,
    handled,
    state: {
      setBusy: (b: boolean) => log.push(`busy ${b}`),
      setError: (e: ApiError | undefined) => {
        log.push(e ? `error ${e.code}` : 'error cleared');
        errors.push(e);
      },
      onError: (e: ApiError) => {
        log.push(`handled ${e.code}`);
        handled.push(e);
      },
    },
  };
}

describe('runAction', () => {
  it('is busy with no error while the action runs, then not busy', async () => {
    const r = recorder();
    let release = () => {};
    const done = runAction(() => new Promise<void>((res) => (release = res)), r.state);
    expect(r.log).toEqual(['busy true', 'error cleared']);
    release();
    await done;
    expect(r.log).toEqual(['busy true', 'error cleared', 'busy false']);
    expect(r.handled).toEqual([]);
  });

  it('keeps a failure as an ApiError, hands it to onError, and resolves', async () => {
    const r = recorder();
    const refused = new ApiError('invalid_config', 'no such provider', 422);
    await expect(runAction(() => Promise.reject(refused), r.state)).resolves.toBeUndefined();
    expect(r.log).toEqual(['busy true', 'error cleared', 'error invalid_config', 'handled invalid_config', 'busy false']);
    expect(r.errors[1]).toBe(refused);
    expect(r.handled[0]).toBe(refused);
  });

  it('turns anything thrown into an ApiError', async () => {
    const r = recorder();
    await runAction(async () => {
      throw new Error('boom');
    }, r.state);
    await runAction(() => Promise.reject(new TypeError('Failed to fetch')), r.state);
    const [, boom, , network] = r.errors;
    expect(boom).toBeInstanceOf(ApiError);
    expect([boom?.code, boom?.message]).toEqual(['client_error', 'boom']);
    expect(network?.code).toBe('network_error');
  });

  it('a new run clears the last failure first', async () => {
    const r = recorder();
    await runAction(() => Promise.reject(new Error('first')), r.state);
    await runAction(async () => 'fine', r.state);
    expect(r.log.slice(-3)).toEqual(['busy true', 'error cleared', 'busy false']);
  });

  it('works without onError', async () => {
    const log: unknown[] = [];
    await runAction(() => Promise.reject(new Error('x')), { setBusy: (b) => log.push(b), setError: (e) => log.push(e?.message) });
    expect(log).toEqual([true, undefined, 'x', false]);
  });
});
