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
          <h1 tabIndex={-1}>Overview</h1>
          <p className="muted">
            {st ? (
              <>
                Up {fmtDuration(st.uptime_s)} · config version {st.config_version}
                {st.active_profile ? <> · profile <strong>{st.active_profile}</strong></> : null}
              </>
            ) : (
              'Loading status…'
            )}
          </p>
        </div>
        <PauseToggle />
      </header>
      <ErrorNote error={app.statusError} title="Status unavailable" onRetry={app.reloadStatus} />

      {noProviders && (
        <div className="card">
          <EmptyState
            icon="⇄"
            title="No providers yet: add one"
            actions={
              <button className="btn btn-primary" onClick={() => navigate('providers', { add: '1' })}>
                Add a provider
              </button>
            }
          >
            The gateway is running but has nowhere to send requests. Add OpenAI, Anthropic, Groq or any
            OpenAI-compatible server — or a local Ollama / LM Studio, which are detected on the Providers page.
          </EmptyState>
        </div>
      )}

      <section className="card" aria-labelledby="ep-title">
        <div className="card-head">
          <h2 id="ep-title">Endpoint</h2>
          <span className="muted small">Point any OpenAI-compatible client here</span>
        </div>
        <div className="endpoint">
          <code data-testid="endpoint-url">{st?.endpoint ?? '…'}</code>
          {st && <CopyButton text={st.endpoint} label="Copy URL" />}
        </div>
        {st && <Snippets endpoint={st.endpoint} model={exampleModel} />}
      </section>

      <section aria-labelledby="kpi-title">
        <h2 id="kpi-title" className="section-title">
          Last hour
        </h2>
        <ErrorNote error={summary.error} title="Telemetry unavailable" onRetry={summary.reload} />
        <div className="kpis">
          <Kpi label="Requests / min" value={summary.data ? fmtNum(summary.data.requests_per_min, 2) : undefined} sub={summary.data ? `${fmtNum(summary.data.requests)} requests` : undefined} testId="kpi-rpm" />
          <Kpi
            label="Error rate"
            value={summary.data ? fmtPct(summary.data.error_rate) : undefined}
            sub={summary.data ? `${fmtNum(summary.data.errors)} error${summary.data.errors === 1 ? '' : 's'}` : undefined}
            tone={summary.data && summary.data.error_rate > 0.05 ? 'err' : undefined}
            testId="kpi-errors"
          />
          <Kpi label="p95 latency" value={summary.data ? fmtMs(summary.data.latency_p95_ms) : undefined} sub={summary.data ? `p50 ${fmtMs(summary.data.latency_p50_ms)}` : undefined} testId="kpi-p95" />
          <Kpi
            label="Fallbacks"
            value={summary.data ? fmtNum(summary.data.fallbacks) : undefined}
            sub={summary.data ? 'served by a backup target' : undefined}
            tone={summary.data && summary.data.fallbacks > 0 ? 'warn' : undefined}
            testId="kpi-fallbacks"
          />
          <Kpi
            label="Prompt cache hits"
            value={summary.data ? fmtPct(cacheHitRatio(summary.data.cache_read_tokens, summary.data.tokens_in)) : undefined}
            sub={
              summary.data
                ? `${fmtCompact(summary.data.cache_read_tokens)} of ${fmtCompact(summary.data.tokens_in)} input tokens` +
                  (summary.data.usage_unknown ? ` · ${fmtNum(summary.data.usage_unknown)} unknown` : '')
                : undefined
            }
            testId="kpi-cache"
          />
          <ResponseCacheKpi />
        </div>
        {series.data && (
          <div className="card chart-card">
            <div className="card-head">
              <h3>Requests, errors and fallbacks</h3>
              <a href="#/telemetry" className="small">
                All telemetry →
              </a>
            </div>
            <Chart model={metricChart(series.data, METRICS[0])} unit="count" height={150} testId="overview-chart" emptyText="No traffic in the last hour. Send a request to the endpoint above." />
          </div>
        )}
      </section>

      <section className="card" aria-labelledby="health-title">
        <div className="card-head">
          <h2 id="health-title">Provider health</h2>
          <a href="#/providers" className="small">
            Manage providers →
          </a>
        </div>
        <ErrorNote error={provs.error} title="Could not load providers" onRetry={provs.reload} />
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
                        ? 'no traffic yet'
                        : p.targets.map((t) => (
                            <span key={t.model} className={`tgt tone-${healthTone(t.health)}`}>
                              {t.model || '(as requested)'}: {healthText(t.health)}
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
      <div className="tabs" role="tablist" aria-label="Client snippets">
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
    toast('ok', r.paused ? 'Paused: clients get 503 until you resume.' : 'Resumed: serving requests.');
    app.reloadStatus();
  });
  const st = app.status;
  if (!st) return null;
  const paused = st.paused === true;
  return (
    <div className="pause">
      <div className={`run-state ${paused ? 'is-paused' : 'is-running'}`} data-testid="run-state">
        <Dot tone={paused ? 'warn' : 'ok'} /> {paused ? 'Paused' : 'Running'}
      </div>
      <button className={`btn ${paused ? 'btn-primary' : ''}`} onClick={() => toggle.run(!paused)} disabled={toggle.busy || !app.canWrite} data-testid="pause-toggle">
        {toggle.busy ? <Spinner /> : paused ? 'Resume' : 'Pause'}
      </button>
      {toggle.error && <div className="pause-err"><ErrorNote error={toggle.error} title={paused ? 'Could not resume' : 'Could not pause'} /></div>}
    </div>
  );
}
