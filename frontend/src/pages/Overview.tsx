// Overview: running or paused, the endpoint with snippets, the last hour's
// numbers and provider health.
import { useState } from 'react';
import { config, providers as providersApi, status as statusApi, telemetry } from '../api';
import { useApp } from '../context';
import { Chart } from '../components/Chart';
import { ResponseCacheKpi } from '../components/ResponseCacheKpi';
import { Badge, CopyButton, Dot, EmptyState, ErrorNote, Spinner, useToast } from '../components/ui';
import { alignedRange, METRICS, metricChart, windowById } from '../lib/chart';
import { fmtCompact, fmtMs, fmtNum, fmtPct, fmtDuration } from '../lib/format';
import { healthText, healthTone, keyText, worstTone } from '../lib/health';
import { navigate, useAction, useAsync } from '../lib/hooks';
import { snippets } from '../lib/snippets';
import { cacheHitRatio } from '../lib/usage';
import { t } from '../i18n';

export function Overview() {
  const app = useApp();
  const st = app.status;
  const summary = useAsync(() => telemetry.summary(60), [], 10_000);
  const provs = useAsync(() => providersApi.list(), [], 10_000);
  const routes = useAsync(() => config.routes(), []);
  const hour = windowById('1h');
  const series = useAsync(() => telemetry.series(alignedRange(hour, Date.now()), {}, hour.bucket_s), [], 15_000);

  const exampleModel = routes.data?.routes[0]?.model ?? 'gpt-4o-mini';
  const noProviders = provs.data !== undefined && provs.data.length === 0;

  return (
    <div className="page">
      <header className="page-head">
        <div>
          <h1 tabIndex={-1}>{t('overview.overview')}</h1>
          <p className="muted">
            {st ? (
              <>
                {t('overview.up_since', { uptime: fmtDuration(st.uptime_s), version: st.config_version })}
                {st.active_profile ? <>{' '}{t('overview.profile')}{' '}<strong>{st.active_profile}</strong></> : null}
              </>
            ) : (
              t('overview.loading_status')
            )}
          </p>
        </div>
        <PauseToggle />
      </header>
      <ErrorNote error={app.statusError} title={t('overview.status_unavailable')} onRetry={app.reloadStatus} />

      {noProviders && (
        <div className="card">
          <EmptyState
            icon="⇄"
            title={t('overview.no_providers_yet_add_one')}
            actions={
              <button className="btn btn-primary" onClick={() => navigate('providers', { add: '1' })}>{t('overview.add_a_provider')}</button>
            }
          >{t('overview.the_gateway_is_running_but')}</EmptyState>
        </div>
      )}

      <section className="card" aria-labelledby="ep-title">
        <div className="card-head">
          <h2 id="ep-title">{t('overview.endpoint')}</h2>
          <span className="muted small">{t('overview.point_any_openai_compatible_client')}</span>
        </div>
        <div className="endpoint">
          <code data-testid="endpoint-url">{st?.endpoint ?? '…'}</code>
          {st && <CopyButton text={st.endpoint} label={t('overview.copy_url')} />}
        </div>
        {st && <Snippets endpoint={st.endpoint} model={exampleModel} />}
      </section>

      <section aria-labelledby="kpi-title">
        <h2 id="kpi-title" className="section-title">{t('overview.last_hour')}</h2>
        <ErrorNote error={summary.error} title={t('overview.telemetry_unavailable')} onRetry={summary.reload} />
        <div className="kpis">
          <Kpi label={t('overview.requests_min')} value={summary.data ? fmtNum(summary.data.requests_per_min, 2) : undefined} sub={summary.data ? t('overview.n_requests', { n: fmtNum(summary.data.requests) }) : undefined} testId="kpi-rpm" />
          <Kpi
            label={t('overview.error_rate')}
            value={summary.data ? fmtPct(summary.data.error_rate) : undefined}
            sub={summary.data ? t(summary.data.errors === 1 ? 'overview.one_error' : 'overview.n_errors', { n: fmtNum(summary.data.errors) }) : undefined}
            tone={summary.data && summary.data.error_rate > 0.05 ? 'err' : undefined}
            testId="kpi-errors"
          />
          <Kpi label={t('overview.p95_latency')} value={summary.data ? fmtMs(summary.data.latency_p95_ms) : undefined} sub={summary.data ? `p50 ${fmtMs(summary.data.latency_p50_ms)}` : undefined} testId="kpi-p95" />
          <Kpi
            label={t('overview.fallbacks')}
            value={summary.data ? fmtNum(summary.data.fallbacks) : undefined}
            sub={summary.data ? t('overview.served_by_a_backup_target') : undefined}
            tone={summary.data && summary.data.fallbacks > 0 ? 'warn' : undefined}
            testId="kpi-fallbacks"
          />
          <Kpi
            label={t('overview.prompt_cache_hits')}
            value={summary.data ? fmtPct(cacheHitRatio(summary.data.cache_read_tokens, summary.data.tokens_in)) : undefined}
            sub={
              summary.data
                ? t('overview.cached_of_input', { cached: fmtCompact(summary.data.cache_read_tokens), input: fmtCompact(summary.data.tokens_in) }) +
                  (summary.data.usage_unknown ? ' · ' + t('overview.n_unknown', { n: fmtNum(summary.data.usage_unknown) }) : '')
                : undefined
            }
            testId="kpi-cache"
          />
          <ResponseCacheKpi />
        </div>
        {series.data && (
          <div className="card chart-card">
            <div className="card-head">
              <h3>{t('overview.requests_errors_and_fallbacks')}</h3>
              <a href="#/telemetry" className="small">{t('overview.all_telemetry')}</a>
            </div>
            <Chart model={metricChart(series.data, METRICS[0])} unit="count" height={150} testId="overview-chart" emptyText={t('overview.no_traffic_in_the_last')} />
          </div>
        )}
      </section>

      <section className="card" aria-labelledby="health-title">
        <div className="card-head">
          <h2 id="health-title">{t('overview.provider_health')}</h2>
          <a href="#/providers" className="small">{t('overview.manage_providers')}</a>
        </div>
        <ErrorNote error={provs.error} title={t('overview.could_not_load_providers')} onRetry={provs.reload} />
        {provs.loading && !provs.data && <Spinner />}
        {provs.data && provs.data.length > 0 && (
          <ul className="health-list" data-testid="provider-health">
            {provs.data.map((p) => {
              const tone = worstTone(p.targets.map((t) => t.health));
              const k = keyText(p.key);
              return (
                <li key={p.name}>
                  <Dot tone={p.key === 'missing' ? 'err' : tone} />
                  <div className="grow">
                    <div>
                      <strong>{p.name}</strong> <span className="muted small">{p.base_url}</span>
                    </div>
                    <div className="small muted">
                      {p.targets.length === 0
                        ? t('overview.no_traffic_yet')
                        : p.targets.map((tg) => (
                            <span key={tg.model} className={`tgt tone-${healthTone(tg.health)}`}>
                              {tg.model || t('overview.as_requested')}: {healthText(tg.health)}
                            </span>
                          ))}
                    </div>
                  </div>
                  <Badge tone={k.tone === 'neutral' ? 'neutral' : k.tone}>{k.text}</Badge>
                </li>
              );
            })}
          </ul>
        )}
      </section>
    </div>
  );
}

function Kpi({ label, value, sub, tone, testId }: { label: string; value?: string; sub?: string; tone?: 'err' | 'warn'; testId?: string }) {
  return (
    <div className={`kpi ${tone ? 'kpi-' + tone : ''}`} data-testid={testId}>
      <div className="kpi-label">{label}</div>
      <div className="kpi-value">{value ?? '…'}</div>
      <div className="kpi-sub">{sub ?? '\u00a0'}</div>
    </div>
  );
}

function Snippets({ endpoint, model }: { endpoint: string; model: string }) {
  const all = snippets(endpoint, model);
  const [sel, setSel] = useState(all[0].id);
  const s = all.find((x) => x.id === sel) ?? all[0];
  return (
    <div className="snippets">
      <div className="tabs" role="tablist" aria-label={t('overview.client_snippets')}>
        {all.map((x) => (
          <button
            key={x.id}
            role="tab"
            aria-selected={x.id === sel}
            className={x.id === sel ? 'on' : ''}
            onClick={() => setSel(x.id)}
            onKeyDown={(e) => {
              const i = all.findIndex((y) => y.id === sel);
              if (e.key === 'ArrowRight') setSel(all[(i + 1) % all.length].id);
              if (e.key === 'ArrowLeft') setSel(all[(i - 1 + all.length) % all.length].id);
            }}
          >
            {x.label}
          </button>
        ))}
      </div>
      <div className="snippet" role="tabpanel">
        <div className="snippet-head">
          <span className="muted small">{s.where}</span>
          <CopyButton text={s.code} />
        </div>
        <pre>
          <code>{s.code}</code>
        </pre>
      </div>
    </div>
  );
}

function PauseToggle() {
  const app = useApp();
  const toast = useToast();
  const toggle = useAction(async (pause: boolean) => {
    const r = await statusApi.setPaused(pause);
    toast('ok', r.paused ? t('overview.paused_clients_get_503_until') : t('overview.resumed_serving_requests'));
    app.reloadStatus();
  });
  const st = app.status;
  if (!st) return null;
  const paused = st.paused === true;
  return (
    <div className="pause">
      <div className={`run-state ${paused ? 'is-paused' : 'is-running'}`} data-testid="run-state">
        <Dot tone={paused ? 'warn' : 'ok'} /> {paused ? t('overview.paused') : t('overview.running')}
      </div>
      <button className={`btn ${paused ? 'btn-primary' : ''}`} onClick={() => toggle.run(!paused)} disabled={toggle.busy || !app.canWrite} data-testid="pause-toggle">
        {toggle.busy ? <Spinner /> : paused ? t('overview.resume') : t('overview.pause')}
      </button>
      {toggle.error && <div className="pause-err"><ErrorNote error={toggle.error} title={paused ? t('overview.could_not_resume') : t('overview.could_not_pause')} /></div>}
    </div>
  );
}
