import { describe, expect, it } from 'vitest';
import type { Bucket, Series } from '../api/types';
import { alignedRange, distinct, isolated, groupedChart, METRICS, metricChart, topGroups, totals, windowById, WINDOWS } from './chart';

const bucket = (start_ms: number, over: Partial<Bucket> = {}): Bucket => ({
  start_ms, requests: 0, errors: 0, errors_by_class: {}, cancelled: 0, latency_ms: null, ttft_ms: null,
  tokens_in: 0, tokens_out: 0, cache_read_tokens: 0, cache_write_tokens: 0, usage_unknown: 0, cost_usd: 0, route_modes: { direct: 0, provider_fallback: 0, model_fallback: 0, cache: 0 }, ...over,
});
const series = (buckets: Bucket[]): Series => ({ from_ms: buckets[0]?.start_ms ?? 0, to_ms: 0, bucket_ms: 60_000, buckets });
const metric = (id: string) => METRICS.find((m) => m.id === id)!;

describe('chart data shaping', () => {
  const s = series([
    bucket(60_000, { requests: 4, errors: 1, latency_ms: { p50: 10, p95: 40, p99: 90 }, tokens_in: 100, tokens_out: 50, cost_usd: 0.01, route_modes: { direct: 2, provider_fallback: 1, model_fallback: 1, cache: 0 } }),
    bucket(120_000),
  ]);

  it('x in seconds, one column per line, null where no sample', () => {
    const c = metricChart(s, metric('latency'));
    expect(c.labels).toEqual(['p50', 'p95', 'p99']);
    expect(c.data).toEqual([[60, 120], [10, null], [40, null], [90, null]]);
    expect(c.empty).toBe(false);
  });

  it('requests chart has requests, errors and fallbacks', () => {
    expect(metricChart(s, metric('requests')).data.slice(1)).toEqual([[4, 0], [1, 0], [2, 0]]);
  });

  it('flags an all-zero window as empty', () => {
    expect(metricChart(series([bucket(0), bucket(60_000)]), metric('requests')).empty).toBe(true);
    expect(metricChart(series([bucket(0)]), metric('ttft')).empty).toBe(true);
  });

  it('groups align on bucket starts, null where a group has no bucket', () => {
    const a = series([bucket(0, { requests: 1 }), bucket(60_000, { requests: 2 })]);
    const b = series([bucket(60_000, { requests: 5 }), bucket(120_000, { requests: 1 })]);
    const c = groupedChart([{ label: 'openai', series: a }, { label: 'groq', series: b }], metric('requests'));
    expect(c.labels).toEqual(['openai', 'groq']);
    expect(c.data).toEqual([[0, 60, 120], [1, 2, null], [null, 5, 1]]);
    expect(groupedChart([], metric('requests')).empty).toBe(true);
  });

  it('grouped tokens add in and out', () => {
    expect(groupedChart([{ label: 'x', series: s }], metric('tokens')).data[1]).toEqual([150, 0]);
  });

  it('totals and top groups', () => {
    expect(totals(s)).toEqual({ requests: 4, errors: 1, fallbacks: 2, tokens: 150, tokensIn: 100, cacheRead: 0, cacheWrite: 0, usageUnknown: 0, cost: 0.01 });
    const g = (label: string, n: number) => ({ label, series: series([bucket(0, { requests: n })]) });
    expect(topGroups([g('a', 1), g('b', 0), g('c', 9), g('d', 3)], 2).map((x) => x.label)).toEqual(['c', 'd']);
    expect(distinct(['b', null, 'a', 'b', undefined, ''])).toEqual(['a', 'b']);
  });

  it('finds points a line cannot draw', () => {
    expect(isolated([null, 5, null, 1, 2, null, 0])).toEqual([1, 6]);
    expect(isolated([])).toEqual([]);
  });

  it('windows: 15 min, 1 h, 24 h, 7 d, with aligned ranges', () => {
    expect(WINDOWS.map((w) => w.label)).toEqual(['15 min', '1 h', '24 h', '7 d']);
    for (const w of WINDOWS) expect((w.minutes * 60) / w.bucket_s).toBeLessThanOrEqual(2000);
    const r = alignedRange(windowById('1h'), 3_600_000 * 10 + 1234);
    expect(r.to % 60_000).toBe(0);
    expect(r.to - r.from).toBe(3_600_000);
    expect(r.to).toBeGreaterThanOrEqual(3_600_000 * 10 + 1234);
    expect(windowById('nope').id).toBe('1h');
  });
});
