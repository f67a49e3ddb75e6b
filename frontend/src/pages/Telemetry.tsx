// Telemetry: charts over a window (split by provider or model), the recent
// requests with filters, and one request with its attempts.
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

  const t = charts.data?.main ? totals(charts.data.main) : undefined;

  return (
    <div className="page">
      <header className="page-head">
        <div>
          <h1 tabIndex={-1}>Telemetry</h1>
          <p className="muted">Every request through the gateway: volume, errors, latency, tokens and cost.</p>
        </div>
      </header>

      <div className="toolbar card" role="group" aria-label="Chart options">
        <Segmented label="Time window" value={win} options={WINDOWS.map((x) => ({ id: x.id, label: x.label }))} onChange={setWin} />
        <div className="toolbar-group">
          <span className="label">Split by</span>
          <Segmented<Split>
            label="Split by"
            value={split}
            options={[
              { id: 'none', label: 'Nothing' },
              { id: 'provider', label: 'Provider' },
              { id: 'model', label: 'Model' },
            ]}
            onChange={setSplit}
          />
        </div>
        <label className="toolbar-group">
          <span className="label">Provider</span>
          <select value={provider} onChange={(e) => setProvider(e.target.value)} data-testid="tm-provider">
            <option value="">all</option>
            {providerNames.map((p) => (
              <option key={p}>{p}</option>
            ))}
          </select>
        </label>
        <label className="toolbar-group">
          <span className="label">Model</span>
          <select value={model} onChange={(e) => setModel(e.target.value)}>
            <option value="">all</option>
            {models.map((m) => (
              <option key={m}>{m}</option>
            ))}
          </select>
        </label>
        {charts.loading && <Spinner label="Refreshing" />}
      </div>

      <ErrorNote error={charts.error} title="Could not load the charts" onRetry={charts.reload} />
      {t && (
        <div className="kpis small-kpis" data-testid="tm-totals">
          <div className="kpi">
            <div className="kpi-label">Requests</div>
            <div className="kpi-value">{fmtNum(t.requests)}</div>
          </div>
          <div className="kpi">
            <div className="kpi-label">Errors</div>
            <div className="kpi-value">{fmtNum(t.errors)}</div>
            <div className="kpi-sub">{t.requests ? fmtPct(t.errors / t.requests) : '—'}</div>
          </div>
          <div className="kpi">
            <div className="kpi-label">Fallbacks</div>
            <div className="kpi-value">{fmtNum(t.fallbacks)}</div>
          </div>
          <div className="kpi">
            <div className="kpi-label">Tokens</div>
            <div className="kpi-value">{fmtCompact(t.tokens)}</div>
            <div className="kpi-sub" data-testid="tm-usage-unknown">
              {t.usageUnknown ? `+ ${fmtNum(t.usageUnknown)} with unknown usage` : '\u00a0'}
            </div>
          </div>
          <div className="kpi" data-testid="tm-cache">
            <div className="kpi-label">Prompt cache</div>
            <div className="kpi-value">{fmtCompact(t.cacheRead)} read</div>
            <div className="kpi-sub">
              {fmtCompact(t.cacheWrite)} written · {fmtPct(cacheHitRatio(t.cacheRead, t.tokensIn))} of input
            </div>
          </div>
          <div className="kpi">
            <div className="kpi-label">Est. cost</div>
            <div className="kpi-value">{fmtUsd(t.cost)}</div>
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
                <Chart model={model} unit={m.unit} testId={`chart-${m.id}`} emptyText={grouped && charts.data!.groups.length === 0 ? `No traffic served by any ${split} in this window.` : m.emptyText} />
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
  }, [minutes, provider, model, outcome, route, origin, tick]);

  useEffect(() => {
    const id = setInterval(() => document.visibilityState === 'visible' && setTick((t) => t + 1), 15_000);
    return () => clearInterval(id);
  }, []);

  return (
    <section className="card" aria-labelledby="log-title">
      <div className="card-head">
        <h2 id="log-title">Recent requests</h2>
        <div className="toolbar-inline">
          <Segmented<Outcome | ''>
            label="Outcome"
            value={outcome}
            options={[
              { id: '', label: 'All' },
              { id: 'ok', label: 'OK' },
              { id: 'error', label: 'Errors' },
              { id: 'fallback', label: 'Fallbacks' },
              { id: 'cancelled', label: 'Cancelled' },
            ]}
            onChange={setOutcome}
          />
          <input className="search" placeholder="Route (model asked for)" value={route} onChange={(e) => setRoute(e.target.value)} aria-label="Filter by route" />
          <select value={origin} onChange={(e) => setOrigin(e.target.value)} aria-label="Origin">
            <option value="">client traffic</option>
            <option value="fallback_test">fallback tests</option>
            <option value="replay">replays</option>
            <option value="bench">benchmark</option>
            <option value="verify">verification runs</option>
            <option value="all">everything</option>
          </select>
        </div>
      </div>
      <ErrorNote error={load.error} title="Could not load requests" onRetry={() => load.run(false)} />
      {rows.length === 0 && !load.busy && !load.error && (
        <EmptyState icon="∅" title="No requests match">
          {outcome || route || provider || model
            ? 'Try another filter or a longer window.'
            : 'Send a request to the endpoint shown on the Overview page and it appears here within a second.'}
        </EmptyState>
      )}
      {rows.length > 0 && (
        <div className="table-wrap">
          <table className="table table-hover" data-testid="request-table">
            <thead>
              <tr>
                <th>Time</th>
                <th>Route</th>
                <th>Served by</th>
                <th>Mode</th>
                <th>Status</th>
                <th className="right">Latency</th>
                <th className="right">TTFT</th>
                <th className="right">Tokens</th>
                <th className="right">Cached</th>
                <th className="right">Cost</th>
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
                  <td className="right">{usageUnknown(r) ? 'unknown' : fmtUsd(r.cost_usd)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {cursor && (
        <div className="row-center">
          <button className="btn" onClick={() => load.run(true)} disabled={load.busy}>
            {load.busy ? <Spinner /> : 'Load older'}
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
  if (r.cancelled) return <Badge tone="neutral">cancelled</Badge>;
  if (r.error) return <Badge tone="err" title={r.error}>{r.status || 'error'} · {r.error}</Badge>;
  return <Badge tone="ok">{r.status}</Badge>;
}

function RequestDialog({ id, onClose }: { id: string; onClose: () => void }) {
  const d = useAsync<RequestDetail>(() => telemetry.request(id), [id]);
  const r = d.data?.request;
  const app = useApp();
  const [replay, setReplay] = useState(false);
  return (
    <Dialog open wide title="Request" onClose={onClose}>
      <ErrorNote error={d.error} title="Could not load the request" />
      {d.loading && !d.data && <Spinner />}
      {r && d.data && (
        <div data-testid="request-detail">
          <dl className="facts">
            <div>
              <dt>Id</dt>
              <dd className="mono small">{r.id}</dd>
            </div>
            <div>
              <dt>Time</dt>
              <dd>{fmtDateTime(r.time_ms)}</dd>
            </div>
            <div>
              <dt>Client</dt>
              <dd>{r.client}</dd>
            </div>
            <div>
              <dt>Endpoint</dt>
              <dd className="mono small">
                {r.endpoint}
                {r.stream ? ' (stream)' : ''}
              </dd>
            </div>
            <div>
              <dt>Route</dt>
              <dd className="mono">{r.requested_model}</dd>
            </div>
            <div>
              <dt>Served by</dt>
              <dd>
                {r.provider ?? '—'} <code>{r.forwarded_model ?? ''}</code>
              </dd>
            </div>
            <div>
              <dt>Mode</dt>
              <dd>{routeModeLabel(r.route_mode)}</dd>
            </div>
            <div>
              <dt>Status</dt>
              <dd>{statusBadge(r)}</dd>
            </div>
            <div>
              <dt>Latency</dt>
              <dd>
                {fmtMs(r.latency_ms)} <span className="muted small">(gateway {fmtMs(r.overhead_ms)})</span>
              </dd>
            </div>
            <div>
              <dt>First token</dt>
              <dd>{fmtMs(r.ttft_ms)}</dd>
            </div>
            <div>
              <dt>Tokens in / out</dt>
              <dd>
                {tokensText(r)}
                {r.tokens_estimated ? <span className="muted small"> (estimated)</span> : null}
                {usageUnknown(r) ? <span className="muted small"> (the stream ended before its usage arrived)</span> : null}
              </dd>
            </div>
            <div>
              <dt>Prompt cache</dt>
              <dd>{cacheText(r)}</dd>
            </div>
            <div>
              <dt>Est. cost</dt>
              <dd>{usageUnknown(r) ? 'unknown' : fmtUsd(r.cost_usd)}</dd>
            </div>
          </dl>
          {app.canWrite && !replay && (
            <div className="row-end">
              <button className="btn" onClick={() => setReplay(true)} data-testid="replay-open" title="Send this request again to a provider/model you pick">
                Replay…
              </button>
            </div>
          )}
          {replay && <ReplayPanel original={r} onClose={() => setReplay(false)} />}
          <h3 className="small-title">Attempts ({d.data.attempts.length})</h3>
          {d.data.attempts.length === 0 ? (
            <p className="muted">No upstream attempt (refused or answered by the gateway itself).</p>
          ) : (
            <AttemptsTable attempts={d.data.attempts} testId="detail-attempts" />
          )}
          {(d.data.request_body || d.data.response_body) && (
            <>
              {d.data.request_body && (
                <details>
                  <summary>Request body</summary>
                  <pre className="code-block">{d.data.request_body}</pre>
                </details>
              )}
              {d.data.response_body && (
                <details>
                  <summary>Response body</summary>
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
