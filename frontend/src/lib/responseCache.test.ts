import { describe, expect, it } from 'vitest';
import { fmtMb, responseCacheHitRate } from './responseCache';

const stats = (hits: number, misses: number) => ({ hits, misses, entries: 0, bytes: 0, max_bytes: 64 << 20 });

describe('response cache', () => {
  it('hit rate is hits over lookups, none before any', () => {
    expect(responseCacheHitRate(stats(0, 0))).toBeNull();
    expect(responseCacheHitRate(stats(3, 1))).toBe(0.75);
  });
  it('sizes in MB', () => {
    expect(fmtMb(64 << 20)).toBe('64.0 MB');
    expect(fmtMb(1536 * 1024)).toBe('1.5 MB');
  });
});
