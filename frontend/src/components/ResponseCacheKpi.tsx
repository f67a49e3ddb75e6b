// Overview KPI: the exact response cache's hit rate since start
// (routes with `cache = { … }`), its size against server.cache_max_mb.
import { telemetry } from '../api';
import { fmtNum, fmtPct } from '../lib/format';
import { useAsync } from '../lib/hooks';
import { fmtMb, responseCacheHitRate } from '../lib/responseCache';

export function ResponseCacheKpi() {
  const cache = useAsync(() => telemetry.cache(), [], 10_000);
  const s = cache.data;
  const lookups = s ? s.hits + s.misses : 0;
  return (
    <div className="kpi" data-testid="kpi-response-cache">
      <div className="kpi-label">Response cache hits</div>
      <div className="kpi-value">{s ? fmtPct(responseCacheHitRate(s)) : '…'}</div>
      <div className="kpi-sub">
        {s
          ? lookups > 0
            ? `${fmtNum(s.hits)} of ${fmtNum(lookups)} requests since start · ${fmtMb(s.bytes)} of ${fmtMb(s.max_bytes)}`
            : 'no caching route used yet'
          : '\u00a0'}
      </div>
    </div>
  );
}
