// Telemetry queries (gateway-core/src/api/telemetry.rs). Times are ms since
// the Unix epoch.
import { call, query } from './transport';
import type { CacheStats, Outcome, RequestDetail, RequestPage, Series, Summary } from './types';

export interface TelemetryFilter {
  provider?: string;
  model?: string;
  route?: string;
  client?: string;
  /** `client` (the server's default), `fallback_test`, `replay`, `bench` or `all`. */
  origin?: string;
  /** Search: a request id, or text in models, provider, route, error or stored bodies. */
  q?: string;
}

export const telemetry = {
  /** A window: the last `minutes`, or `from`/`to` (ms) for buckets aligned across queries. */
  series: (range: { minutes: number } | { from: number; to: number }, filter: TelemetryFilter = {}, bucketS?: number) =>
    call<Series>('GET', '/telemetry/series' + query({ ...range, bucket_s: bucketS, ...filter })),
  summary: (minutes = 60, filter: TelemetryFilter = {}) =>
    call<Summary>('GET', '/telemetry/summary' + query({ minutes, ...filter })),
  requests: (
    opts: TelemetryFilter & { minutes?: number; outcome?: Outcome | ''; limit?: number; cursor?: string | null } = {},
  ) => call<RequestPage>('GET', '/telemetry/requests' + query({ ...opts })),
  /** The response cache since start: hits, misses, entries, bytes, bound. */
  cache: () => call<CacheStats>('GET', '/telemetry/cache'),
  /** The filtered list as CSV or JSON Lines text (at most 10 000 rows, newest first). */
  exportText: async (
    format: 'csv' | 'jsonl',
    opts: TelemetryFilter & { minutes?: number; outcome?: Outcome | '' } = {},
  ): Promise<string> => {
    const body = await call<unknown>('GET', '/telemetry/export' + query({ format, ...opts }));
    if (typeof body === 'string') return body;
    // a one-row JSON Lines file parses as JSON
    return body == null ? '' : JSON.stringify(body) + '\n';
  },
  request: (id: string) => call<RequestDetail>('GET', `/telemetry/requests/${encodeURIComponent(id)}`),
};
