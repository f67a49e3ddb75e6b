// The response cache's numbers (GET /admin/api/telemetry/cache) as words.
import type { CacheStats } from '../api/types';
import { numberFormat, t } from '../i18n';

/** Hits over lookups on caching routes; null before any. */
export function responseCacheHitRate(s: CacheStats): number | null {
  const lookups = s.hits + s.misses;
  return lookups > 0 ? s.hits / lookups : null;
}

/** Bytes as MB with one decimal ("3.2 MB"; "3,2 MB" in German). */
export function fmtMb(bytes: number): string {
  const n = numberFormat({ minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(bytes / (1024 * 1024));
  return t('responseCache.mb', { n });
}
