// The response cache's numbers (GET /admin/api/telemetry/cache) as words.
import type { CacheStats } from '../api/types';

/** Hits over lookups on caching routes; null before any. */
export function responseCacheHitRate(s: CacheStats): number | null {
  const lookups = s.hits + s.misses;
  return lookups > 0 ? s.hits / lookups : null;
}

/** Bytes as MB with one decimal ("3.2 MB"). */
export function fmtMb(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}
