// Verification runs on the Model benchmark page: record a baseline from a
// trusted provider + model, then run the same fixed probes through any
// provider and see the verdict (normal / suspect / highly_suspect) with its
// reasons; past runs below (docs/tools.md, "Verification runs").
import { useEffect, useState } from 'react';
import { verify } from '../api';
import type { BenchTarget, VerifyReason, VerifyRun, VerifyVerdict } from '../api/types';
import { useApp } from '../context';
import { t, tn } from '../i18n';
import { Badge, EmptyState, ErrorNote, Spinner } from './ui';
import { fmtDateTime, fmtMs, fmtNum, fmtUsd } from '../lib/format';
import { useAction, useAsync } from '../lib/hooks';

const TONE: Record<VerifyVerdict, 'ok' | 'warn' | 'err'> = { normal: 'ok', suspect: 'warn', highly_suspect: 'err' };
const LABEL: Record<VerifyVerdict, () => string> = {
  normal: () => t('verify.verdict_normal'),
  suspect: () => t('verify.verdict_suspect'),
  highly_suspect: () => t('verify.verdict_highly_suspect'),
};

export function VerdictBadge({ verdict }: { verdict: VerifyVerdict }) {
  return (
    <span data-testid="verify-verdict" data-verdict={verdict}>
      <Badge tone={TONE[verdict]}>{LABEL[verdict]()}</Badge>
    </span>
  );
}

const label = (x: BenchTarget) => `${x.provider}:${x.model}`;

function TargetPicker({ id, names, value, onChange }: { id: string; names: string[]; value: BenchTarget; onChange: (t: BenchTarget) => void }) {
  return (
    <span className="bench-target">
      <select aria-label={t('verify.provider_aria', { id })} value={value.provider} onChange={(e) => onChange({ ...value, provider: e.target.value })} data-testid={`${id}-provider`}>
        <option value="">{t('verify.provider_placeholder')}</option>
        {names.map((n) => (
          <option key={n} value={n}>
            {n}
          </option>
        ))}
      </select>
      <input aria-label={t('verify.model_aria', { id })} placeholder={t('verify.model_placeholder')} value={value.model} onChange={(e) => onChange({ ...value, model: e.target.value })} data-testid={`${id}-model`} />
    </span>
  );
}

export function Verification({ names }: { names: string[] }) {
  const app = useApp();
  const suite = useAsync(() => verify.suite(), []);
  const runs = useAsync(() => verify.runs(20), []);
  const baselines = useAsync(() => verify.baselines(20), []);
  const [target, setTarget] = useState<BenchTarget>({ provider: '', model: '' });
  const [base, setBase] = useState<BenchTarget>({ provider: '', model: '' });
  const [maxCost, setMaxCost] = useState('0.05');
  const [result, setResult] = useState<VerifyRun>();
  const [recorded, setRecorded] = useState<string>();

  useEffect(() => {
    if (names.length) {
      setTarget((x) => (x.provider ? x : { ...x, provider: names[0] }));
      setBase((x) => (x.provider ? x : { ...x, provider: names[0] }));
    }
  }, [names.join(',')]); // eslint-disable-line react-hooks/exhaustive-deps

  const cap = Number(maxCost);
  const valid = (x: BenchTarget) => !!x.provider && !!x.model.trim();
  const recording = useAction(async () => {
    setRecorded(undefined);
    const b = await verify.recordBaseline({ ...base, model: base.model.trim() }, cap);
    setRecorded(t('verify.baseline_recorded', { id: b.id, target: label(b.target), probes: b.probes.length, spent: fmtUsd(b.spent_usd) }));
    baselines.reload();
  });
  const running = useAction(async () => {
    setResult(undefined);
    const r = await verify.run({ target: { ...target, model: target.model.trim() }, baseline: { ...base, model: base.model.trim() }, max_cost_usd: cap });
    setResult(r);
    runs.reload();
  });
  const busy = recording.busy || running.busy;
  const haveBaseline = (baselines.data ?? []).some((b) => b.target.provider === base.provider && b.target.model === base.model.trim());

  return (
    <section className="card" aria-labelledby="verify-title" data-testid="verify">
      <div className="card-head">
        <h2 id="verify-title">{t('verify.title')}</h2>
        {!app.canWrite && <span className="small warn-text">{t('verify.needs_admin')}</span>}
      </div>
      <p className="muted small">
        {suite.data ? t('verify.explain_n', { n: suite.data.probes.length, version: suite.data.version }) : t('verify.explain')}
      </p>
      {suite.data && (
        <details className="small">
          <summary>{t('verify.the_probes')}</summary>
          <ul>
            {suite.data.probes.map((p) => (
              <li key={p.name}>
                <span className="mono">{p.name}</span>: {p.about}
              </li>
            ))}
          </ul>
        </details>
      )}
      <div className="bench-options">
        <label className="field">
          <span>{t('verify.baseline_trusted')}</span>
          <TargetPicker id="verify-baseline" names={names} value={base} onChange={setBase} />
          <span className="field-hint">{haveBaseline ? t('verify.has_baseline') : t('verify.no_baseline')}</span>
        </label>
        <label className="field">
          <span>{t('verify.target_to_verify')}</span>
          <TargetPicker id="verify-target" names={names} value={target} onChange={setTarget} />
        </label>
        <label className="field">
          <span>{t('verify.max_cost')}</span>
          <input type="number" min={0} step="0.01" value={maxCost} onChange={(e) => setMaxCost(e.target.value)} data-testid="verify-maxcost" />
        </label>
      </div>
      <ErrorNote error={recording.error} title={t('verify.baseline_not_recorded')} />
      <ErrorNote error={running.error} title={t('verify.did_not_run')} />
      {recorded && (
        <div className="banner banner-info" data-testid="verify-recorded">
          {recorded}
        </div>
      )}
      <div className="row-end">
        <button className="btn" onClick={() => void recording.run()} disabled={busy || !app.canWrite || !valid(base) || !(cap >= 0)} data-testid="verify-baseline-btn">
          {recording.busy ? <Spinner label={t('verify.recording')} /> : t('verify.record_baseline')}
        </button>
        <button
          className="btn btn-primary"
          onClick={() => void running.run()}
          disabled={busy || !app.canWrite || !valid(base) || !valid(target) || !(cap >= 0)}
          data-testid="verify-run-btn"
        >
          {running.busy ? <Spinner label={t('verify.verifying')} /> : t('verify.run_verification')}
        </button>
      </div>

      {result && <RunResult run={result} />}

      <h3 className="small-title">{t('verify.past_runs')}</h3>
      <ErrorNote error={runs.error} title={t('verify.could_not_load_runs')} onRetry={runs.reload} />
      {runs.data && runs.data.length === 0 && (
        <EmptyState icon="∅" title={t('verify.no_runs_yet')}>
          {t('verify.no_runs_hint')}
        </EmptyState>
      )}
      {runs.data && runs.data.length > 0 && (
        <div className="table-wrap">
          <table className="table" data-testid="verify-history">
            <thead>
              <tr>
                <th>{t('verify.col_run')}</th>
                <th>{t('verify.col_time')}</th>
                <th>{t('verify.col_target')}</th>
                <th>{t('verify.col_baseline')}</th>
                <th>{t('verify.col_verdict')}</th>
                <th>{t('verify.col_counted_reasons')}</th>
                <th className="right">{t('verify.col_spent')}</th>
              </tr>
            </thead>
            <tbody>
              {runs.data.map((r) => (
                <tr key={r.id} data-testid="verify-history-row">
                  <td className="mono">#{r.id}</td>
                  <td>{fmtDateTime(r.started_ms)}</td>
                  <td className="mono">{label(r.target)}</td>
                  <td className="mono">{label(r.baseline_target)}</td>
                  <td>
                    <VerdictBadge verdict={r.verdict} />
                  </td>
                  <td className="small">{r.reasons.filter((x) => x.counted).length}</td>
                  <td className="right">{fmtUsd(r.spent_usd)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

/** A reason's kind in words. */
function kindLabel(k: VerifyReason['kind']): string {
  switch (k) {
    case 'tokens':
      return t('verify.kind_tokens');
    case 'check':
      return t('verify.kind_check');
    case 'error':
      return t('verify.kind_error');
    case 'latency':
      return t('verify.kind_latency');
    case 'note':
      return t('verify.kind_note');
    default:
      return k;
  }
}

function reasonText(r: VerifyReason) {
  return (r.probe ? `${r.probe}: ` : '') + r.message;
}

function RunResult({ run }: { run: VerifyRun }) {
  return (
    <div className="verify-result" data-testid="verify-result">
      <p>
        {tn('verify.against_baseline', { target: <strong>{label(run.target)}</strong>, baseline: <strong>{label(run.baseline_target)}</strong> })}{' '}
        <VerdictBadge verdict={run.verdict} />{' '}
        <span className="muted small">{t('verify.run_meta', { id: run.id, time: fmtMs(run.finished_ms - run.started_ms), spent: fmtUsd(run.spent_usd) })}</span>
      </p>
      {run.reasons.length === 0 ? (
        <p className="muted small">{t('verify.all_matched')}</p>
      ) : (
        <ul data-testid="verify-reasons">
          {run.reasons.map((r, i) => (
            <li key={i} data-testid="verify-reason" data-kind={r.kind} className={r.counted ? undefined : 'muted'}>
              {r.counted ? <Badge tone="warn">{kindLabel(r.kind)}</Badge> : <Badge>{kindLabel(r.kind)}</Badge>} {reasonText(r)}
            </li>
          ))}
        </ul>
      )}
      <details>
        <summary>{t('verify.probe_answers')}</summary>
        <div className="table-wrap">
          <table className="table" data-testid="verify-probes">
            <thead>
              <tr>
                <th>{t('verify.col_probe')}</th>
                <th>{t('verify.col_check')}</th>
                <th className="right">{t('verify.col_tokens')}</th>
                <th className="right">{t('verify.col_latency')}</th>
                <th>{t('verify.col_answer')}</th>
              </tr>
            </thead>
            <tbody>
              {run.probes.map((p) => (
                <tr key={p.probe}>
                  <td className="mono">{p.probe}</td>
                  <td>{p.error ? <Badge tone="err">{t('verify.check_error')}</Badge> : p.passed ? <Badge tone="ok">{t('verify.check_pass')}</Badge> : p.passed === false ? <Badge tone="warn">{t('verify.check_fail')}</Badge> : '—'}</td>
                  <td className="right">
                    {p.tokens_in === null ? '—' : fmtNum(p.tokens_in)} / {p.tokens_out === null ? '—' : fmtNum(p.tokens_out)}
                  </td>
                  <td className="right">{fmtMs(p.latency_ms)}</td>
                  <td className="small mono">{p.error ?? p.answer}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </div>
  );
}
