// Shaping telemetry series into chart data (uPlot's column arrays: x in
// seconds, then one array per line, `null` where there is no value).
import type { Bucket, Series } from '../api/types';
import { t } from '../i18n';

export interface TimeWindow {
  id: string;
  label: string;
  minutes: number;
  /** Bucket size in seconds (about 60–100 points per chart). */
  bucket_s: number;
}

export const WINDOWS: TimeWindow[] = [
  { id: '15m', label: '15 min', minutes: 15, bucket_s: 15 },
  { id: '1h', label: '1 h', minutes: 60, bucket_s: 60 },
  { id: '24h', label: '24 h', minutes: 1440, bucket_s: 900 },
  { id: '7d', label: '7 d', minutes: 10080, bucket_s: 10800 },
];

export function windowById(id: string): TimeWindow {
  return WINDOWS.find((w) => w.id === id) ?? WINDOWS[1];
}

/**
 * The `[from, to)` of a window ending now, with `to` rounded up to a bucket
 * boundary so buckets stay put between refreshes and line up across queries.
 */
export function alignedRange(w: TimeWindow, nowMs: number): { from: number; to: number } {
  const b = w.bucket_s * 1000;
  const to = Math.ceil(nowMs / b) * b;
  return { from: to - w.minutes * 60_000, to };
}

export function bucketLabel(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${seconds / 60} min`;
  return `${seconds / 3600} h`;
}

export type ChartData = [number[], ...(number | null)[][]];

export interface LineDef {
  label: string;
  values: (number | null)[];
}

export interface ChartModel {
  data: ChartData;
  labels: string[];
  /** True when no line has a non-zero value (draw an empty state instead). */
  empty: boolean;
}

/** A metric: how to read a bucket, in full (one series) and grouped (one line per group). */
export interface MetricDef {
  id: string;
  title: string;
  unit: 'count' | 'ms' | 'tokens' | 'usd';
  lines: { label: string; pick: (b: Bucket) => number | null }[];
  /** The single line drawn per group when grouped by provider or model. */
  grouped: { label: string; pick: (b: Bucket) => number | null };
  /** Chart title when grouped, e.g. "p95 latency". */
  groupedTitle: string;
  /** What an empty chart says. */
  emptyText: string;
}

const q = (k: 'latency_ms' | 'ttft_ms', p: 'p50' | 'p95' | 'p99') => (b: Bucket) => b[k]?.[p] ?? null;

export const METRICS: MetricDef[] = [
  {
    id: 'requests',
    get title() {
      return t('chart.requests');
    },
    unit: 'count',
    lines: [
      { get label() { return t('chart.line_requests'); }, pick: (b) => b.requests },
      { get label() { return t('chart.line_errors'); }, pick: (b) => b.errors },
      { get label() { return t('chart.fallbacks'); }, pick: (b) => b.route_modes.provider_fallback + b.route_modes.model_fallback },
    ],
    grouped: { get label() { return t('chart.line_requests'); }, pick: (b) => b.requests },
    get groupedTitle() {
      return t('chart.requests');
    },
    get emptyText() {
      return t('chart.no_requests_in_this_window');
    },
  },
  {
    id: 'errors',
    get title() {
      return t('chart.errors');
    },
    unit: 'count',
    lines: [
      { get label() { return t('chart.line_errors'); }, pick: (b) => b.errors },
      { get label() { return t('chart.cancelled'); }, pick: (b) => b.cancelled },
    ],
    grouped: { get label() { return t('chart.line_errors'); }, pick: (b) => b.errors },
    get groupedTitle() {
      return t('chart.errors');
    },
    get emptyText() {
      return t('chart.no_errors_in_this_window');
    },
  },
  {
    id: 'latency',
    get title() {
      return t('chart.latency');
    },
    unit: 'ms',
    lines: [
      { label: 'p50', pick: q('latency_ms', 'p50') },
      { label: 'p95', pick: q('latency_ms', 'p95') },
      { label: 'p99', pick: q('latency_ms', 'p99') },
    ],
    grouped: { label: 'p95', pick: q('latency_ms', 'p95') },
    get groupedTitle() {
      return t('chart.p95_latency');
    },
    get emptyText() {
      return t('chart.no_answered_requests_in_this');
    },
  },
  {
    id: 'ttft',
    get title() {
      return t('chart.time_to_first_token');
    },
    unit: 'ms',
    lines: [
      { label: 'p50', pick: q('ttft_ms', 'p50') },
      { label: 'p95', pick: q('ttft_ms', 'p95') },
      { label: 'p99', pick: q('ttft_ms', 'p99') },
    ],
    grouped: { label: 'p95', pick: q('ttft_ms', 'p95') },
    get groupedTitle() {
      return t('chart.p95_time_to_first_token');
    },
    get emptyText() {
      return t('chart.no_answered_requests_in_this');
    },
  },
  {
    id: 'tokens',
    get title() {
      return t('chart.tokens');
    },
    unit: 'tokens',
    lines: [
      { get label() { return t('chart.in'); }, pick: (b) => b.tokens_in },
      { get label() { return t('chart.out'); }, pick: (b) => b.tokens_out },
    ],
    grouped: { get label() { return t('chart.line_tokens'); }, pick: (b) => b.tokens_in + b.tokens_out },
    get groupedTitle() {
      return t('chart.tokens_in_out');
    },
    get emptyText() {
      return t('chart.no_tokens_in_this_window');
    },
  },
  {
    id: 'cost',
    get title() {
      return t('chart.estimated_cost');
    },
    unit: 'usd',
    lines: [{ get label() { return t('chart.cost'); }, pick: (b) => b.cost_usd }],
    grouped: { get label() { return t('chart.cost'); }, pick: (b) => b.cost_usd },
    get groupedTitle() {
      return t('chart.estimated_cost');
    },
    get emptyText() {
      return t('chart.no_cost_in_this_window');
    },
  },
];

function isEmpty(lines: (number | null)[][]): boolean {
  return lines.every((l) => l.every((v) => v === null || v === 0));
}

/** One series, every line of the metric. */
export function metricChart(series: Series, metric: MetricDef): ChartModel {
  const xs = series.buckets.map((b) => b.start_ms / 1000);
  const lines = metric.lines.map((l) => series.buckets.map(l.pick));
  return { data: [xs, ...lines], labels: metric.lines.map((l) => l.label), empty: isEmpty(lines) };
}

/**
 * One line per group (provider or model). The series may have different
 * bucket starts (queried at different moments): they are aligned on the
 * union of bucket starts, with `null` where a group has no bucket.
 */
export function groupedChart(groups: { label: string; series: Series }[], metric: MetricDef): ChartModel {
  const starts = [...new Set(groups.flatMap((g) => g.series.buckets.map((b) => b.start_ms)))].sort((a, b) => a - b);
  const lines = groups.map((g) => {
    const at = new Map(g.series.buckets.map((b) => [b.start_ms, b]));
    return starts.map((s) => {
      const b = at.get(s);
      return b ? metric.grouped.pick(b) : null;
    });
  });
  return {
    data: [starts.map((s) => s / 1000), ...lines],
    labels: groups.map((g) => g.label),
    empty: groups.length === 0 || isEmpty(lines),
  };
}

/** Totals over a series (for the headline numbers above the charts). */
export function totals(series: Series): {
  requests: number;
  errors: number;
  fallbacks: number;
  tokens: number;
  tokensIn: number;
  /** Parts of `tokensIn` read from / written to prompt caches. */
  cacheRead: number;
  cacheWrite: number;
  /** Answered requests whose usage is unknown (not in tokens or cost). */
  usageUnknown: number;
  cost: number;
} {
  return series.buckets.reduce(
    (t, b) => ({
      requests: t.requests + b.requests,
      errors: t.errors + b.errors,
      fallbacks: t.fallbacks + b.route_modes.provider_fallback + b.route_modes.model_fallback,
      tokens: t.tokens + b.tokens_in + b.tokens_out,
      tokensIn: t.tokensIn + b.tokens_in,
      cacheRead: t.cacheRead + b.cache_read_tokens,
      cacheWrite: t.cacheWrite + b.cache_write_tokens,
      usageUnknown: t.usageUnknown + b.usage_unknown,
      cost: t.cost + b.cost_usd,
    }),
    { requests: 0, errors: 0, fallbacks: 0, tokens: 0, tokensIn: 0, cacheRead: 0, cacheWrite: 0, usageUnknown: 0, cost: 0 },
  );
}

/** The `n` groups with the most requests, busiest first (the rest are dropped from charts). */
export function topGroups<T extends { series: Series }>(groups: T[], n: number): T[] {
  const req = (g: T) => g.series.buckets.reduce((s, b) => s + b.requests, 0);
  return groups
    .map((g) => ({ g, r: req(g) }))
    .filter((x) => x.r > 0)
    .sort((a, b) => b.r - a.r)
    .slice(0, n)
    .map((x) => x.g);
}

/**
 * Indexes of values with no neighbour on either side: a line cannot show
 * them, so the chart draws a point there.
 */
export function isolated(values: (number | null | undefined)[]): number[] {
  const out: number[] = [];
  values.forEach((v, i) => {
    if (v === null || v === undefined) return;
    const prev = i > 0 ? values[i - 1] : null;
    const next = i < values.length - 1 ? values[i + 1] : null;
    if ((prev === null || prev === undefined) && (next === null || next === undefined)) out.push(i);
  });
  return out;
}

/** Distinct non-empty values, sorted. */
export function distinct(values: (string | null | undefined)[]): string[] {
  return [...new Set(values.filter((v): v is string => !!v))].sort();
}
