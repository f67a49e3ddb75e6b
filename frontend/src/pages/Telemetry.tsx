// Telemetry: charts over a window (split by provider or model), the recent
// requests with filters, and one request with its attempts.
import { ExportButtons } from '../components/ExportButtons';
import { useEffect, useMemo, useState } from 'react';
import { providers as providersApi, telemetry } from '../api';
import type { Outcome, RequestDetail, RequestRow, Series } from '../api/types';
import { AttemptsTable } from '../components/Attempts';
import { Chart } from '../components/Chart';
import { ReplayPanel } from '../components/Replay';
import { useApp } from '../context';
import { Badge, Dialog, EmptyState, ErrorNote, Segmented, Spinner } from '../components/ui';
import { alignedRange, bucketLabel, distinct, groupedChart, METRICS, metricChart, topGroups, totals, windowById, WINDOWS } from '../lib/chart';
import { fmtCompact, fmtMs, fmtNum, fmtPct, fmtTime, fmtUsd, fmtDateTime, routeModeLabel } from '../lib/format';
import { navigate, useAction, useAsync, useHashRoute } from '../lib/hooks';
import { cacheHitRatio, cacheText, tokensText, usageUnknown } from '../lib/usage';
import { t } from '../i18n';

type Split = 'none' | 'provider' | 'model';
const MAX_GROUPS = 6;

export function Telemetry() {
  const { params } = useHashRoute();
  const [win, setWin] = useState('1h');
  const [split, setSplit] = useState<Split>('none');
  const [provider, setProvider] = useState('');
  const [model, setModel] = useState('');
  const w = windowById(win);
  const filter = useMemo(() => ({ provider: provider || undefined, model: model || undefined }), [provider, model]);

  const provs = useAsync(() => providersApi.list(), []);
  // Models seen lately, for the filter and the split.
  const seen = useAsync(() => telemetry.requests({ minutes: w.minutes, limit: 500 }), [w.minutes], 30_000);
  const models = distinct((seen.data?.items ?? []).map((r) => r.forwarded_model));
  const providerNames = distinct([...(provs.data ?? []).map((p) => p.name), ...(seen.data?.items ?? []).map((r) => r.provider)]);

  const charts = useAsync(
    async () => {
      const range = alignedRange(w, Date.now());
      const main = await telemetry.series(range, filter, w.bucket_s);
      let groups: { label: string; series: Series }[] = [];
      if (split !== 'none') {
        const values = split === 'provider' ? (provider ? [provider] : providerNames) : model ? [model] : models;
        const all = await Promise.all(
          values.slice(0, 20).map(async (v) => ({
            label: v,
            series: await telemetry.series(range, { ...filter, [split]: v }, w.bucket_s),
          })),
        );
        groups = topGroups(all, MAX_GROUPS);
      }
      return { main, groups };
    },
    [win, split, provider, model, providerNames.join(','), models.join(',')],
    w.minutes <= 60 ? 15_000 : 60_000,
  );

  const tot = charts.data?.main ? totals(charts.data.main) : undefined;

  return (
    <div className="page">
      <header className="page-head">
        <div>
          <h1 tabIndex={-1}>{t('telemetry.telemetry')}</h1>
          <p className="muted">{t('telemetry.every_request_through_the_gateway')}</p>
        </div>
      </header>

      <div className="toolbar card" role="group" aria-label={t('telemetry.chart_options')}>
        <Segmented label={t('telemetry.time_window')} value={win} options={WINDOWS.map((x) => ({ id: x.id, label: x.label }))} onChange={setWin} />
        <div className="toolbar-group">
          <span className="label">{t('telemetry.split_by')}</span>
          <Segmented<Split>
            label={t('telemetry.split_by')}
            value={split}
            options={[
              { id: 'none', label: t('telemetry.nothing') },
              { id: 'provider', label: t('telemetry.provider') },
              { id: 'model', label: t('telemetry.model') },
            ]}
            onChange={setSplit}
          />
        </div>
        <label className="toolbar-group">
          <span className="label">{t('telemetry.provider')}</span>
          <select value={provider} onChange={(e) => setProvider(e.target.value)} data-testid="tm-provider">
            <option value="">{t('telemetry.all')}</option>
            {providerNames.map((p) => (
              <option key={p}>{p}</option>
            ))}
          </select>
        </label>
        <label className="toolbar-group">
          <span className="label">{t('telemetry.model')}</span>
          <select value={model} onChange={(e) => setModel(e.target.value)}>
            <option value="">{t('telemetry.all')}</option>
            {models.map((m) => (
              <option key={m}>{m}</option>
            ))}
          </select>
        </label>
        {charts.loading && <Spinner label={t('telemetry.refreshing')} />}
      </div>

      <ErrorNote error={charts.error} title={t('telemetry.could_not_load_the_charts')} onRetry={charts.reload} />
      {tot && (
        <div className="kpis small-kpis" data-testid="tm-totals">
          <div className="kpi">
            <div className="kpi-label">{t('telemetry.requests')}</div>
            <div className="kpi-value">{fmtNum(tot.requests)}</div>
          </div>
          <div className="kpi">
            <div className="kpi-label">{t('telemetry.errors')}</div>
            <div className="kpi-value">{fmtNum(tot.errors)}</div>
            <div className="kpi-sub">{tot.requests ? fmtPct(tot.errors / tot.requests) : '—'}</div>
          </div>
          <div className="kpi">
            <div className="kpi-label">{t('telemetry.fallbacks')}</div>
            <div className="kpi-value">{fmtNum(tot.fallbacks)}</div>
          </div>
          <div className="kpi">
            <div className="kpi-label">{t('telemetry.tokens')}</div>
            <div className="kpi-value">{fmtCompact(tot.tokens)}</div>
            <div className="kpi-sub" data-testid="tm-usage-unknown">
              {tot.usageUnknown ? t('telemetry.unknown_usage', { n: fmtNum(tot.usageUnknown) }) : '\u00a0'}
            </div>
          </div>
          <div className="kpi" data-testid="tm-cache">
            <div className="kpi-label">{t('telemetry.prompt_cache')}</div>
            <div className="kpi-value">{t('telemetry.n_read', { n: fmtCompact(tot.cacheRead) })}</div>
            <div className="kpi-sub">
              {t('telemetry.written_of_input', { written: fmtCompact(tot.cacheWrite), pct: fmtPct(cacheHitRatio(tot.cacheRead, tot.tokensIn)) })}
            </div>
          </div>
          <div className="kpi">
            <div className="kpi-label">{t('telemetry.est_cost')}</div>
            <div className="kpi-value">{fmtUsd(tot.cost)}</div>
          </div>
        </div>
      )}
      {charts.data && (
        <div className="chart-grid" data-testid="tm-charts">
          {METRICS.map((m) => {
            const grouped = split !== 'none';
            const model = grouped ? groupedChart(charts.data!.groups, m) : metricChart(charts.data!.main, m);
            const per = m.unit === 'count' || m.unit === 'tokens' || m.unit === 'usd' ? ` per ${bucketLabel(w.bucket_s)}` : '';
            return (
              <div className="card chart-card" key={m.id}>
                <div className="card-head">
                  <h3>{grouped ? `${m.groupedTitle} by ${split}` : m.title}</h3>
                  <span className="muted small">{per.trim()}</span>
                </div>
                <Chart model={model} unit={m.unit} testId={`chart-${m.id}`} emptyText={grouped && charts.data!.groups.length === 0 ? t(split === 'provider' ? 'telemetry.no_traffic_provider' : 'telemetry.no_traffic_model') : m.emptyText} />
              </div>
            );
          })}
        </div>
      )}

      <RequestLog minutes={w.minutes} provider={provider} model={model} openId={params.get('request')} />
    </div>
  );
}

function RequestLog({ minutes, provider, model, openId }: { minutes: number; provider: string; model: string; openId: string | null }) {
  const [outcome, setOutcome] = useState<Outcome | ''>('');
  const [route, setRoute] = useState('');
  const [origin, setOrigin] = useState('');
  const [search, setSearch] = useState('');
  const [rows, setRows] = useState<RequestRow[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [detail, setDetail] = useState<string | null>(openId);
  const [tick, setTick] = useState(0);

  useEffect(() => setDetail(openId), [openId]);

  const load = useAction(async (more: boolean) => {
    const page = await telemetry.requests({
      minutes,
      provider: provider || undefined,
      model: model || undefined,
      route: route.trim() || undefined,
      origin: origin || undefined,
      q: search.trim() || undefined,
      outcome,
      limit: 50,
      cursor: more ? cursor : undefined,
    });
    setRows((r) => (more ? [...r, ...page.items] : page.items));
    setCursor(page.next_cursor);
  });

  useEffect(() => {
    void load.run(false);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [minutes, provider, model, outcome, route, origin, search, tick]);

  useEffect(() => {
    const id = setInterval(() => document.visibilityState === 'visible' && setTick((t) => t + 1), 15_000);
    return () => clearInterval(id);
  }, []);

  return (
    <section className="card" aria-labelledby="log-title">
      <div className="card-head">
        <h2 id="log-title">{t('telemetry.recent_requests')}</h2>
        <div className="toolbar-inline">
          <Segmented<Outcome | ''>
            label={t('telemetry.outcome')}
            value={outcome}
            options={[
              { id: '', label: t('telemetry.all_2') },
              { id: 'ok', label: 'OK' },
              { id: 'error', label: t('telemetry.errors') },
              { id: 'fallback', label: t('telemetry.fallbacks') },
              { id: 'cancelled', label: t('telemetry.cancelled_2') },
            ]}
            onChange={setOutcome}
          />
          <input className="search" placeholder={t('telemetry.route_model_asked_for')} value={route} onChange={(e) => setRoute(e.target.value)} aria-label={t('telemetry.filter_by_route')} />
          <input
            className="search"
            placeholder="Search: request id, model, error, text"
            value={search}
            maxLength={200}
            onChange={(e) => setSearch(e.target.value)}
            aria-label="Search requests"
          />
          <select value={origin} onChange={(e) => setOrigin(e.target.value)} aria-label={t('telemetry.origin')}>
            <option value="">{t('telemetry.client_traffic')}</option>
            <option value="fallback_test">{t('telemetry.fallback_tests')}</option>
            <option value="replay">{t('telemetry.replays')}</option>
            <option value="bench">{t('telemetry.benchmark')}</option>
            <option value="verify">{t('telemetry.verification_runs')}</option>
            <option value="all">{t('telemetry.everything')}</option>
          </select>
          <ExportButtons
            opts={{
              minutes,
              provider: provider || undefined,
              model: model || undefined,
              route: route.trim() || undefined,
              origin: origin || undefined,
              q: search.trim() || undefined,
              outcome,
            }}
          />
        </div>
      </div>
      <ErrorNote error={load.error} title={t('telemetry.could_not_load_requests')} onRetry={() => load.run(false)} />
      {rows.length === 0 && !load.busy && !load.error && (
        <EmptyState icon="∅" title={t('telemetry.no_requests_match')}>
          {outcome || route || provider || model || search
            ? t('telemetry.try_another_filter_or_a')
            : t('telemetry.send_a_request_to_the')}
        </EmptyState>
      )}
      {rows.length > 0 && (
        <div className="table-wrap">
          <table className="table table-hover" data-testid="request-table">
            <thead>
              <tr>
                <th>{t('telemetry.time')}</th>
                <th>{t('telemetry.route')}</th>
                <th>{t('telemetry.served_by')}</th>
                <th>{t('telemetry.mode')}</th>
                <th>{t('telemetry.status')}</th>
                <th className="right">{t('telemetry.latency')}</th>
                <th className="right">{t('telemetry.ttft')}</th>
                <th className="right">{t('telemetry.tokens')}</th>
                <th className="right">{t('telemetry.cached')}</th>
                <th className="right">{t('telemetry.cost')}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr
                  key={r.id}
                  tabIndex={0}
                  onClick={() => setDetail(r.id)}
                  onKeyDown={(e) => (e.key === 'Enter' || e.key === ' ') && (e.preventDefault(), setDetail(r.id))}
                  aria-label={`Request ${r.id}`}
                  data-testid="request-row"
                >
                  <td title={fmtDateTime(r.time_ms)}>{fmtTime(r.time_ms)}</td>
                  <td className="mono">{r.requested_model || '—'}</td>
                  <td>
                    {r.provider ?? '—'}
                    {r.forwarded_model && r.forwarded_model !== r.requested_model && <span className="muted small"> · {r.forwarded_model}</span>}
                  </td>
                  <td>{r.route_mode && r.route_mode !== 'direct' ? <Badge tone="warn">{routeModeLabel(r.route_mode)}</Badge> : <span className="muted">{routeModeLabel(r.route_mode)}</span>}</td>
                  <td>{statusBadge(r)}</td>
                  <td className="right">{fmtMs(r.latency_ms)}</td>
                  <td className="right">{fmtMs(r.ttft_ms)}</td>
                  <td className="right" data-testid="row-tokens">{tokensText(r)}</td>
                  <td className="right">{cacheText(r)}</td>
                  <td className="right">{usageUnknown(r) ? t('telemetry.unknown_word') : fmtUsd(r.cost_usd)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {cursor && (
        <div className="row-center">
          <button className="btn" onClick={() => load.run(true)} disabled={load.busy}>
            {load.busy ? <Spinner /> : t('telemetry.load_older')}
          </button>
        </div>
      )}
      {detail && (
        <RequestDialog
          id={detail}
          onClose={() => {
            setDetail(null);
            if (openId) navigate('telemetry');
          }}
        />
      )}
    </section>
  );
}

function statusBadge(r: RequestRow) {
  if (r.cancelled) return <Badge tone="neutral">{t('telemetry.cancelled')}</Badge>;
  if (r.error) return <Badge tone="err" title={r.error}>{r.status || t('telemetry.error_word')} · {r.error}</Badge>;
  return <Badge tone="ok">{r.status}</Badge>;
}

function RequestDialog({ id, onClose }: { id: string; onClose: () => void }) {
  const d = useAsync<RequestDetail>(() => telemetry.request(id), [id]);
  const r = d.data?.request;
  const app = useApp();
  const [replay, setReplay] = useState(false);
  return (
    <Dialog open wide title={t('telemetry.request')} onClose={onClose}>
      <ErrorNote error={d.error} title={t('telemetry.could_not_load_the_request')} />
      {d.loading && !d.data && <Spinner />}
      {r && d.data && (
        <div data-testid="request-detail">
          <dl className="facts">
            <div>
              <dt>{t('telemetry.id')}</dt>
              <dd className="mono small">{r.id}</dd>
            </div>
            <div>
              <dt>{t('telemetry.time')}</dt>
              <dd>{fmtDateTime(r.time_ms)}</dd>
            </div>
            <div>
              <dt>{t('telemetry.client')}</dt>
              <dd>{r.client}</dd>
            </div>
            <div>
              <dt>{t('telemetry.endpoint')}</dt>
              <dd className="mono small">
                {r.endpoint}
                {r.stream ? ' (stream)' : ''}
              </dd>
            </div>
            <div>
              <dt>{t('telemetry.route')}</dt>
              <dd className="mono">{r.requested_model}</dd>
            </div>
            <div>
              <dt>{t('telemetry.served_by')}</dt>
              <dd>
                {r.provider ?? '—'} <code>{r.forwarded_model ?? ''}</code>
              </dd>
            </div>
            <div>
              <dt>{t('telemetry.mode')}</dt>
              <dd>{routeModeLabel(r.route_mode)}</dd>
            </div>
            <div>
              <dt>{t('telemetry.status')}</dt>
              <dd>{statusBadge(r)}</dd>
            </div>
            <div>
              <dt>{t('telemetry.latency')}</dt>
              <dd>
                {fmtMs(r.latency_ms)} <span className="muted small">(gateway {fmtMs(r.overhead_ms)})</span>
              </dd>
            </div>
            <div>
              <dt>{t('telemetry.first_token')}</dt>
              <dd>{fmtMs(r.ttft_ms)}</dd>
            </div>
            <div>
              <dt>{t('telemetry.tokens_in_out')}</dt>
              <dd>
                {tokensText(r)}
                {r.tokens_estimated ? <span className="muted small">{' '}{t('telemetry.estimated')}</span> : null}
                {usageUnknown(r) ? <span className="muted small">{' '}{t('telemetry.the_stream_ended_before_its')}</span> : null}
              </dd>
            </div>
            <div>
              <dt>{t('telemetry.prompt_cache')}</dt>
              <dd>{cacheText(r)}</dd>
            </div>
            <div>
              <dt>{t('telemetry.est_cost')}</dt>
              <dd>{usageUnknown(r) ? t('telemetry.unknown_word') : fmtUsd(r.cost_usd)}</dd>
            </div>
          </dl>
          {app.canWrite && !replay && (
            <div className="row-end">
              <button className="btn" onClick={() => setReplay(true)} data-testid="replay-open" title={t('telemetry.send_this_request_again_to')}>{t('telemetry.replay')}</button>
            </div>
          )}
          {replay && <ReplayPanel original={r} onClose={() => setReplay(false)} />}
          <h3 className="small-title">Attempts ({d.data.attempts.length})</h3>
          {d.data.attempts.length === 0 ? (
            <p className="muted">{t('telemetry.no_upstream_attempt_refused_or')}</p>
          ) : (
            <AttemptsTable attempts={d.data.attempts} testId="detail-attempts" />
          )}
          {(d.data.request_body || d.data.response_body) && (
            <>
              {d.data.request_body && (
                <details>
                  <summary>{t('telemetry.request_body')}</summary>
                  <pre className="code-block">{d.data.request_body}</pre>
                </details>
              )}
              {d.data.response_body && (
                <details>
                  <summary>{t('telemetry.response_body')}</summary>
                  <pre className="code-block">{d.data.response_body}</pre>
                </details>
              )}
            </>
          )}
        </div>
      )}
    </Dialog>
  );
}
