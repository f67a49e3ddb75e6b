// Token usage of a request as people read it: unknown is said, never shown
// as 0; prompt-cache reads and writes are shown apart (they are part of the
// input count).

import { fmtCompact } from './format';

export type UsageRow = {
  status: number;
  attempts: number;
  tokens_in: number | null;
  tokens_out: number | null;
  tokens_estimated: boolean;
  cache_read_tokens: number | null;
  cache_write_tokens: number | null;
  cost_usd: number | null;
};

/** An answered request whose usage never arrived (a stream cut short). */
export function usageUnknown(r: UsageRow): boolean {
  return r.attempts > 0 && r.status < 400 && (r.tokens_in === null || r.tokens_out === null);
}

/** "1.2k / 300", "unknown / 40", "unknown", or "—" for a request no upstream answered. */
export function tokensText(r: UsageRow): string {
  if (r.tokens_in === null && r.tokens_out === null) return usageUnknown(r) ? 'unknown' : '—';
  const one = (n: number | null) => (n === null ? 'unknown' : fmtCompact(n));
  return `${one(r.tokens_in)} / ${one(r.tokens_out)}${r.tokens_estimated ? '*' : ''}`;
}

/** "900 read · 100 written", "900 read", or "—" when the upstream reported no cache figures. */
export function cacheText(r: Pick<UsageRow, 'cache_read_tokens' | 'cache_write_tokens'>): string {
  const parts: string[] = [];
  if (r.cache_read_tokens !== null) parts.push(`${fmtCompact(r.cache_read_tokens)} read`);
  if (r.cache_write_tokens !== null) parts.push(`${fmtCompact(r.cache_write_tokens)} written`);
  return parts.length ? parts.join(' · ') : '—';
}

/** Share of input tokens read from the cache (`null` without input). */
export function cacheHitRatio(cacheRead: number, tokensIn: number): number | null {
  return tokensIn > 0 ? Math.min(1, cacheRead / tokensIn) : null;
}
