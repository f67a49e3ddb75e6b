// Model benchmark: N small synthetic requests per target, protocol and
// stream mode, with an estimate before anything is sent and a hard cost cap.
// Past runs below, with latency p50 per target over time (docs/tools.md).
import { useEffect, useMemo, useState } from 'react';
import { providers as providersApi, tools } from '../api';
import type { BenchEstimate, BenchRun, BenchSpec } from '../api/types';
import { useApp } from '../context';
import { Chart } from '../components/Chart';
import { Verification } from '../components/Verify';
import { Badge, EmptyState, ErrorNote, Spinner } from '../components/ui';
import { buildSpec, defaultForm, errorsText, latencyChart, paddedRange, PROTOCOLS, targetLabel, type BenchForm } from '../lib/bench';
import { fmtDateTime, fmtMs, fmtNum, fmtPct, fmtUsd } from '../lib/format';
import { useAction, useAsync } from '../lib/hooks';
import { t, tn } from '../i18n';

export function Benchmark() {
  const app = useApp();
  const provs = useAsync(() => providersApi.list(), []);
  const runs = useAsync(() => tools.benchRuns(50), []);
  const names = (provs.data ?? []).map((p) => p.name);
  const [form, setForm] = useState<BenchForm>(() => defaultForm());
  const [estimate, setEstimate] = useState<{ spec: BenchSpec; est: BenchEstimate }>();
  const [run, setRun] = useState<BenchRun>();
  const [problems, setProblems] = useState<string[]>([]);

  // The first provider once the list arrives.
  useEffect(() => {
    if (names.length && form.targets.length === 1 && !form.targets[0].provider)
      setForm((f) => ({ ...f, targets: [{ ...f.targets[0], provider: names[0] }] }));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [names.join(',')]);

  // Any change to the form invalidates the estimate.
  const edit = (fn: (f: BenchForm) => BenchForm) => {
    setForm(fn);
    setEstimate(undefined);
  };

  const estimating = useAction(async (spec: BenchSpec) => setEstimate({ spec, est: await tools.benchEstimate(spec) }));
  const running = useAction(async (spec: BenchSpec) => {
    setRun(undefined);
    setRun(await tools.benchRun(spec));
    runs.reload();
  });
  const busy = estimating.busy || running.busy;

  // One error at a time: starting either clears the other's.
  const doEstimate = () => {
    const r = buildSpec(form);
    setProblems(r.problems);
    running.clearError();
    if (r.spec) void estimating.run(r.spec);
    else estimating.clearError();
  };

  const doRun = () => {
    if (!estimate) return;
    estimating.clearError();
    void running.run(estimate.spec);
  };

  const chart = useMemo(() => latencyChart(runs.data ?? []), [runs.data]);
  const xRange = useMemo(() => paddedRange(chart.data[0]), [chart]);

  return (
    <div className="page">
      <header className="page-head">
        <div>
          <h1 tabIndex={-1}>{t('benchmark.model_benchmark')}</h1>
          <p className="muted">{t('benchmark.a_few_small_synthetic_requests')}</p>
        </div>
      </header>

      <section className="card" aria-labelledby="bench-form-title">
        <div className="card-head">
          <h2 id="bench-form-title">{t('benchmark.new_run')}</h2>
          {!app.canWrite && <span className="small warn-text">{t('benchmark.running_a_benchmark_needs_the')}</span>}
        </div>
        <ErrorNote error={provs.error} title={t('benchmark.could_not_load_providers')} onRetry={provs.reload} />
        <h3 className="small-title">{t('benchmark.targets')}</h3>
        <ul className="bench-targets" data-testid="bench-targets">
          {form.targets.map((tg, i) => (
            <li key={i} className="bench-target" data-testid="bench-target">
              <select
                aria-label={t('benchmark.provider_of_target', { n: i + 1 })}
                value={tg.provider}
                onChange={(e) => edit((f) => ({ ...f, targets: f.targets.map((x, j) => (j === i ? { ...x, provider: e.target.value } : x)) }))}
                data-testid="bench-provider"
              >
                <option value="">{t('benchmark.provider')}</option>
                {names.map((n) => (
                  <option key={n} value={n}>
                    {n}
                  </option>
                ))}
              </select>
              <input
                aria-label={t('benchmark.model_of_target', { n: i + 1 })}
                placeholder={t('benchmark.model_e_g_gpt_4o')}
                value={tg.model}
                onChange={(e) => edit((f) => ({ ...f, targets: f.targets.map((x, j) => (j === i ? { ...x, model: e.target.value } : x)) }))}
                data-testid="bench-model"
              />
              <button
                className="btn btn-small btn-danger-ghost"
                disabled={form.targets.length === 1}
                onClick={() => edit((f) => ({ ...f, targets: f.targets.filter((_, j) => j !== i) }))}
                aria-label={t('benchmark.remove_target_n', { n: i + 1 })}
              >{t('benchmark.remove')}</button>
            </li>
          ))}
        </ul>
        <button
          className="btn btn-small"
          onClick={() => edit((f) => ({ ...f, targets: [...f.targets, { provider: names[0] ?? '', model: '' }] }))}
          data-testid="bench-add-target"
        >{t('benchmark.add_target')}</button>

        <div className="bench-options">
          <fieldset className="checks">
            <legend>{t('benchmark.protocols')}</legend>
            {PROTOCOLS.map((p) => (
              <label key={p.id}>
                <input
                  type="checkbox"
                  checked={form.protocols[p.id]}
                  onChange={(e) => edit((f) => ({ ...f, protocols: { ...f.protocols, [p.id]: e.target.checked } }))}
                  data-testid={`bench-proto-${p.id}`}
                />{' '}
                {p.label} <span className="muted small">({p.id})</span>
              </label>
            ))}
          </fieldset>
          <fieldset className="checks">
            <legend>{t('benchmark.mode')}</legend>
            <label>
              <input type="checkbox" checked={form.nonStream} onChange={(e) => edit((f) => ({ ...f, nonStream: e.target.checked }))} data-testid="bench-nonstream" />{' '}
              non-stream
            </label>
            <label>
              <input type="checkbox" checked={form.stream} onChange={(e) => edit((f) => ({ ...f, stream: e.target.checked }))} data-testid="bench-stream" />{' '}{t('benchmark.stream')}</label>
          </fieldset>
          <label className="field">
            <span>{t('benchmark.requests_per_target')}</span>
            <input type="number" min={1} max={2000} value={form.requests} onChange={(e) => edit((f) => ({ ...f, requests: e.target.value }))} data-testid="bench-requests" />
            <span className="field-hint">{t('benchmark.per_protocol_and_mode')}</span>
          </label>
          <label className="field">
            <span>{t('benchmark.concurrency')}</span>
            <input type="number" min={1} max={16} value={form.concurrency} onChange={(e) => edit((f) => ({ ...f, concurrency: e.target.value }))} data-testid="bench-concurrency" />
          </label>
          <label className="field">
            <span>{t('benchmark.max_cost_usd')}</span>
            <input type="number" min={0} step="0.01" value={form.maxCost} onChange={(e) => edit((f) => ({ ...f, maxCost: e.target.value }))} data-testid="bench-maxcost" />
            <span className="field-hint">{t('benchmark.hard_cap_the_run_stops')}</span>
          </label>
        </div>

        {problems.length > 0 && (
          <ul className="err-text small" role="alert" data-testid="bench-problems">
            {problems.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        )}
        <ErrorNote error={estimating.error} title={t('benchmark.could_not_estimate')} />
        <ErrorNote error={running.error} title={t('benchmark.the_benchmark_did_not_run')} />

        {estimate && (
          <div className="banner banner-info bench-estimate" data-testid="bench-estimate">
            <strong>{t('benchmark.estimate')}</strong>{' '}
            {tn('benchmark.estimate_text', {
              requests: fmtNum(estimate.est.requests),
              tokens_in: fmtNum(estimate.est.tokens_in),
              tokens_out: fmtNum(estimate.est.tokens_out),
              cost: estimate.est.cost_usd !== null ? <strong>{fmtUsd(estimate.est.cost_usd)}</strong> : <strong>{t('benchmark.unknown')}</strong>,
              unpriced: estimate.est.unpriced.length > 0 ? <span className="warn-text"> {t('benchmark.unknown_price_for', { models: estimate.est.unpriced.join(', ') })}</span> : '',
              cap: <strong>{fmtUsd(estimate.est.max_cost_usd)}</strong>,
            })}
            {estimate.est.cost_usd !== null && estimate.est.cost_usd > estimate.est.max_cost_usd && (
              <div className="warn-text small">{t('benchmark.the_estimate_is_above_the')}</div>
            )}
          </div>
        )}

        <div className="row-end">
          <button className="btn" onClick={doEstimate} disabled={busy} data-testid="bench-estimate-btn">
            {estimating.busy ? <Spinner label={t('benchmark.estimating')} /> : 'Estimate'}
          </button>
          <button
            className="btn btn-primary"
            onClick={doRun}
            disabled={!estimate || busy || !app.canWrite}
            title={estimate ? undefined : t('benchmark.estimate_first')}
            data-testid="bench-run-btn"
          >
            {running.busy ? <Spinner label={t('benchmark.running')} /> : 'Run'}
          </button>
        </div>
        {running.busy && <p className="muted small">Sending {estimate?.est.requests} requests; the results appear when the run is done.</p>}
      </section>

      {run && (
        <section className="card" aria-labelledby="bench-result-title" data-testid="bench-result">
          <div className="card-head">
            <h2 id="bench-result-title">{t('benchmark.results')}</h2>
            <span className="muted small">
              run #{run.id} · {fmtDateTime(run.started_ms)} · {fmtMs(run.finished_ms - run.started_ms)} · spent {fmtUsd(run.spent_usd)}
            </span>
          </div>
          {run.stopped_by_cost_cap && (
            <div className="banner banner-warn" role="alert" data-testid="bench-stopped">
              <strong>{t('benchmark.stopped_by_the_cost_cap')}</strong> {t('benchmark.stopped_detail', { cap: fmtUsd(run.spec.max_cost_usd) })}
            </div>
          )}
          <ReportTable run={run} testId="bench-results" />
        </section>
      )}

      <section className="card" aria-labelledby="bench-history-title">
        <div className="card-head">
          <h2 id="bench-history-title">{t('benchmark.past_runs')}</h2>
          {runs.loading && <Spinner label={t('benchmark.loading')} />}
        </div>
        <ErrorNote error={runs.error} title={t('benchmark.could_not_load_past_runs')} onRetry={runs.reload} />
        {runs.data && runs.data.length === 0 && (
          <EmptyState icon="∅" title={t('benchmark.no_benchmark_runs_yet')}>{t('benchmark.pick_targets_above_estimate_then')}</EmptyState>
        )}
        {runs.data && runs.data.length > 0 && (
          <>
            <h3 className="small-title">{t('benchmark.latency_p50_per_target_non')}</h3>
            <Chart model={chart} unit="ms" height={200} xRange={xRange} testId="bench-chart" emptyText={t('benchmark.no_answered_non_stream_chat')} />
            <div className="bench-history" data-testid="bench-history">
              {runs.data.map((r) => (
                <details key={r.id}>
                  <summary>
                    <span className="mono">#{r.id}</span> {fmtDateTime(r.started_ms)} · {r.source} ·{' '}
                    {r.reports.map((x) => targetLabel(x)).filter((v, i, a) => a.indexOf(v) === i).join(', ')} · spent {fmtUsd(r.spent_usd)}
                    {r.stopped_by_cost_cap && (
                      <>
                        {' '}
                        <Badge tone="warn">{t('benchmark.stopped_by_the_cost_cap_2')}</Badge>
                      </>
                    )}
                  </summary>
                  <ReportTable run={r} />
                </details>
              ))}
            </div>
          </>
        )}
      </section>
      <Verification names={names} />
    </div>
  );
}

function ReportTable({ run, testId }: { run: BenchRun; testId?: string }) {
  return (
    <div className="table-wrap">
      <table className="table" data-testid={testId}>
        <thead>
          <tr>
            <th>{t('benchmark.provider_2')}</th>
            <th>{t('benchmark.model')}</th>
            <th>{t('benchmark.protocol')}</th>
            <th>{t('benchmark.mode')}</th>
            <th className="right">{t('benchmark.sent')}</th>
            <th className="right">{t('benchmark.success')}</th>
            <th className="right">{t('benchmark.latency_p50_p95')}</th>
            <th className="right">{t('benchmark.ttft_p50_p95')}</th>
            <th className="right">{t('benchmark.tokens_s')}</th>
            <th>{t('benchmark.errors')}</th>
            <th className="right">{t('benchmark.cost')}</th>
          </tr>
        </thead>
        <tbody>
          {run.reports.map((r, i) => (
            <tr key={i} data-testid="bench-report">
              <td>{r.provider}</td>
              <td className="mono">{r.model}</td>
              <td>{r.protocol}</td>
              <td>{r.stream ? 'stream' : 'non-stream'}</td>
              <td className="right">{fmtNum(r.sent)}</td>
              <td className="right" data-testid="bench-success">
                {r.sent === 0 ? (
                  <span className="muted">—</span>
                ) : (
                  <span className={r.success_rate >= 1 ? 'tone-ok' : r.success_rate >= 0.9 ? 'tone-warn' : 'tone-err'}>{fmtPct(r.success_rate)}</span>
                )}
              </td>
              <td className="right">
                {fmtMs(r.latency_ms?.p50)} / {fmtMs(r.latency_ms?.p95)}
              </td>
              <td className="right">
                {fmtMs(r.ttft_ms?.p50)} / {fmtMs(r.ttft_ms?.p95)}
              </td>
              <td className="right">{r.tokens_per_s === null ? '—' : fmtNum(r.tokens_per_s, 1)}</td>
              <td className="small">{errorsText(r.errors)}</td>
              <td className="right">{fmtUsd(r.cost_usd)}</td>
            </tr>
          ))}
          {run.reports.length === 0 && (
            <tr>
              <td colSpan={11} className="muted">{t('benchmark.nothing_was_sent')}</td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}
