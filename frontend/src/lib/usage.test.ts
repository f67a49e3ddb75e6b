import { describe, expect, it } from 'vitest';
import { cacheHitRatio, cacheText, tokensText, usageUnknown, type UsageRow } from './usage';
import { totals } from './chart';
import type { Bucket } from '../api/types';

const row = (over: Partial<UsageRow>): UsageRow => ({
  status: 200,
  attempts: 1,
  tokens_in: 10,
  tokens_out: 5,
  tokens_estimated: false,
  cache_read_tokens: null,
  cache_write_tokens: null,
  cost_usd: 0.001,
  ...over,
});

describe('usage', () => {
  it('a cut stream says unknown, never 0', () => {
    const cut = row({ tokens_in: null, tokens_out: null, cost_usd: null });
    expect(usageUnknown(cut)).toBe(true);
    expect(tokensText(cut)).toBe('unknown');
    expect(tokensText(row({ tokens_out: null }))).toBe('10 / unknown');
    // a refused request (no upstream) has no usage at all
    expect(tokensText(row({ attempts: 0, status: 429, tokens_in: null, tokens_out: null }))).toBe('—');
    expect(usageUnknown(row({ status: 502, tokens_in: null, tokens_out: null }))).toBe(false);
    expect(tokensText(row({ tokens_in: 1234, tokens_estimated: true }))).toBe('1.2k / 5*');
  });

  it('cache reads and writes apart', () => {
    expect(cacheText(row({ cache_read_tokens: 30000, cache_write_tokens: 2000 }))).toBe('30k read · 2k written');
    expect(cacheText(row({ cache_read_tokens: 900 }))).toBe('900 read');
    expect(cacheText(row({}))).toBe('—');
    expect(cacheHitRatio(900, 1000)).toBe(0.9);
    expect(cacheHitRatio(0, 0)).toBeNull();
  });

  it('totals add cache tokens and unknown usage', () => {
    const b = (over: Partial<Bucket>): Bucket => ({
      start_ms: 0, requests: 1, errors: 0, errors_by_class: {}, cancelled: 0, latency_ms: null, ttft_ms: null,
      tokens_in: 0, tokens_out: 0, cache_read_tokens: 0, cache_write_tokens: 0, usage_unknown: 0, cost_usd: 0,
      route_modes: { direct: 1, provider_fallback: 0, model_fallback: 0, cache: 0 }, ...over,
    });
    const t = totals({ from_ms: 0, to_ms: 120_000, bucket_ms: 60_000, buckets: [
      b({ tokens_in: 1000, tokens_out: 10, cache_read_tokens: 800, cache_write_tokens: 100 }),
      b({ start_ms: 60_000, usage_unknown: 2, tokens_in: 0 }),
    ] });
    expect(t).toMatchObject({ tokens: 1010, cacheRead: 800, cacheWrite: 100, tokensIn: 1000, usageUnknown: 2 });
  });
});
