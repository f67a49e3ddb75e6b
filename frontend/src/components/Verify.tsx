// Verification runs on the Model benchmark page: record a baseline from a
// trusted provider + model, then run the same fixed probes through any
// provider and see the verdict (normal / suspect / highly_suspect) with its
// reasons; past runs below (docs/tools.md, "Verification runs").
import { useEffect, useState } from 'react';
import { verify } from '../api';
import type { BenchTarget, VerifyReason, VerifyRun, VerifyVerdict } from '../api/types';
import { useApp } from '../context';
import { Badge, EmptyState, ErrorNote, Spinner } from './ui';
import { fmtDateTime, fmtMs, fmtNum, fmtUsd } from '../lib/format';
import { useAction, useAsync } from '../lib/hooks';

const TONE: Record<VerifyVerdict, 'ok' | 'warn' | 'err'> = { normal: 'ok', suspect: 'warn', highly_suspect: 'err' };
const LABEL: Record<VerifyVerdict, string> = { normal: 'normal', suspect: 'suspect', highly_suspect: 'highly suspect' };

export function VerdictBadge({ verdict }: { verdict: VerifyVerdict }) {
  return (
    <span data-testid="verify-verdict" data-verdict={verdict}>
      <Badge tone={TONE[verdict]}>{LABEL[verdict]}</Badge>
    </span>
  );
}

const label = (t: BenchTarget) => `${t.provider}:${t.model}`;

function TargetPicker({ id, names, value, onChange }: { id: string; names: string[]; value: BenchTarget; onChange: (t: BenchTarget) => void }) {
  return (
    <span className="bench-target">
      <select aria-label={`Provider (${id})`} value={value.provider} onChange={(e) => onChange({ ...value, provider: e.target.value })} data-testid={`${id}-provider`}>
        <option value="">provider…</option>
        {names.map((n) => (
          <option key={n} value={n}>
            {n}
          </option>
        ))}
      </select>
      <input aria-label={`Model (${id})`} placeholder="model" value={value.model} onChange={(e) => onChange({ ...value, model: e.target.value })} data-testid={`${id}-model`} />
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
      setTarget((t) => (t.provider ? t : { ...t, provider: names[0] }));
      setBase((t) => (t.provider ? t : { ...t, provider: names[0] }));
    }
  }, [names.join(',')]); // eslint-disable-line react-hooks/exhaustive-deps

  const cap = Number(maxCost);
  const valid = (t: BenchTarget) => !!t.provider && !!t.model.trim();
  const recording = useAction(async () => {
    setRecorded(undefined);
    const b = await verify.recordBaseline({ ...base, model: base.model.trim() }, cap);
    setRecorded(`Baseline #${b.id} recorded for ${label(b.target)} (${b.probes.length} probes, spent ${fmtUsd(b.spent_usd)}).`);
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
        <h2 id="verify-title">Verification runs</h2>
        {!app.canWrite && <span className="small warn-text">Recording a baseline or running a verification needs the admin token.</span>}
      </div>
      <p className="muted small">
        Is a provider serving the model it claims? A fixed suite of {suite.data ? suite.data.probes.length : 'a few'} probes
        {suite.data && ` (v${suite.data.version})`} — exact answers, JSON and tool-call shape, system-prompt and max_tokens obedience, and the input token
        count of fixed prompts — is recorded from a trusted target as a baseline; a run through any provider is compared with it. Each run sends real,
        billed requests and is refused when its estimate passes the cost cap.
      </p>
      {suite.data && (
        <details className="small">
          <summary>The probes</summary>
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
          <span>Baseline (trusted)</span>
          <TargetPicker id="verify-baseline" names={names} value={base} onChange={setBase} />
          <span className="field-hint">{haveBaseline ? 'has a baseline' : 'no baseline yet: record one first'}</span>
        </label>
        <label className="field">
          <span>Target to verify</span>
          <TargetPicker id="verify-target" names={names} value={target} onChange={setTarget} />
        </label>
        <label className="field">
          <span>Max cost (USD)</span>
          <input type="number" min={0} step="0.01" value={maxCost} onChange={(e) => setMaxCost(e.target.value)} data-testid="verify-maxcost" />
        </label>
      </div>
      <ErrorNote error={recording.error} title="The baseline was not recorded" />
      <ErrorNote error={running.error} title="The verification did not run" />
      {recorded && (
        <div className="banner banner-info" data-testid="verify-recorded">
          {recorded}
        </div>
      )}
      <div className="row-end">
        <button className="btn" onClick={() => void recording.run()} disabled={busy || !app.canWrite || !valid(base) || !(cap >= 0)} data-testid="verify-baseline-btn">
          {recording.busy ? <Spinner label="Recording" /> : 'Record baseline'}
        </button>
        <button
          className="btn btn-primary"
          onClick={() => void running.run()}
          disabled={busy || !app.canWrite || !valid(base) || !valid(target) || !(cap >= 0)}
          data-testid="verify-run-btn"
        >
          {running.busy ? <Spinner label="Verifying" /> : 'Run verification'}
        </button>
      </div>

      {result && <RunResult run={result} />}

      <h3 className="small-title">Past verification runs</h3>
      <ErrorNote error={runs.error} title="Could not load past verification runs" onRetry={runs.reload} />
      {runs.data && runs.data.length === 0 && (
        <EmptyState icon="∅" title="No verification runs yet">
          Record a baseline from a provider you trust, then verify another provider (or the same one later) against it.
        </EmptyState>
      )}
      {runs.data && runs.data.length > 0 && (
        <div className="table-wrap">
          <table className="table" data-testid="verify-history">
            <thead>
              <tr>
                <th>Run</th>
                <th>Time</th>
                <th>Target</th>
                <th>Baseline</th>
                <th>Verdict</th>
                <th>Counted reasons</th>
                <th className="right">Spent</th>
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

function reasonText(r: VerifyReason) {
  return (r.probe ? `${r.probe}: ` : '') + r.message;
}

function RunResult({ run }: { run: VerifyRun }) {
  return (
    <div className="verify-result" data-testid="verify-result">
      <p>
        <strong>{label(run.target)}</strong> against the baseline of <strong>{label(run.baseline_target)}</strong>: <VerdictBadge verdict={run.verdict} />{' '}
        <span className="muted small">
          run #{run.id} · {fmtMs(run.finished_ms - run.started_ms)} · spent {fmtUsd(run.spent_usd)}
        </span>
      </p>
      {run.reasons.length === 0 ? (
        <p className="muted small">Every probe matched the baseline.</p>
      ) : (
        <ul data-testid="verify-reasons">
          {run.reasons.map((r, i) => (
            <li key={i} data-testid="verify-reason" data-kind={r.kind} className={r.counted ? undefined : 'muted'}>
              {r.counted ? <Badge tone="warn">{r.kind}</Badge> : <Badge>{r.kind}</Badge>} {reasonText(r)}
            </li>
          ))}
        </ul>
      )}
      <details>
        <summary>Probe answers</summary>
        <div className="table-wrap">
          <table className="table" data-testid="verify-probes">
            <thead>
              <tr>
                <th>Probe</th>
                <th>Check</th>
                <th className="right">Tokens in / out</th>
                <th className="right">Latency</th>
                <th>Answer</th>
              </tr>
            </thead>
            <tbody>
              {run.probes.map((p) => (
                <tr key={p.probe}>
                  <td className="mono">{p.probe}</td>
                  <td>{p.error ? <Badge tone="err">error</Badge> : p.passed ? <Badge tone="ok">pass</Badge> : p.passed === false ? <Badge tone="warn">fail</Badge> : '—'}</td>
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
