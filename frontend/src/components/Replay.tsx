// Replay one logged request to a provider/model of the operator's choice
// (no routing, fallback or retries) and show it beside the original.
// POST /admin/api/replay (admin only; docs/tools.md).
import { useEffect, useState } from 'react';
import { providers as providersApi, tools } from '../api';
import type { CallResult, ReplayReport, ReplaySpec, RequestRow } from '../api/types';
import { parseBody } from '../lib/bench';
import { fmtMs, fmtNum, fmtUsd } from '../lib/format';
import { useAction, useAsync } from '../lib/hooks';
import { Badge, ErrorNote, Spinner } from './ui';
import { t } from '../i18n';

export function ReplayPanel({ original, onClose }: { original: RequestRow; onClose: () => void }) {
  const provs = useAsync(() => providersApi.list(), []);
  const names = (provs.data ?? []).map((p) => p.name);
  const [provider, setProvider] = useState('');
  const [model, setModel] = useState(original.forwarded_model ?? original.requested_model ?? '');
  const [pasteOpen, setPasteOpen] = useState(false);
  const [paste, setPaste] = useState('');
  const [pasteErr, setPasteErr] = useState('');
  const [report, setReport] = useState<ReplayReport>();

  // Another provider than the original's by default.
  useEffect(() => {
    if (!provider && names.length) setProvider(names.find((n) => n !== original.provider) ?? names[0]);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [names.join(',')]);

  const replay = useAction(
    async (spec: ReplaySpec) => {
      setReport(undefined);
      setReport(await tools.replay(spec));
    },
    // The body is not available (or could not be used): offer to paste one.
    (e) => {
      if (e.status === 400) setPasteOpen(true);
    },
  );

  const send = (withBody: boolean) => {
    setPasteErr('');
    const to = { provider, model: model.trim() || undefined };
    const p = withBody ? parseBody(paste) : undefined;
    if (p && 'error' in p) {
      replay.clearError();
      setPasteErr(p.error);
      return;
    }
    void replay.run(p ? { body: p.body, endpoint: original.endpoint, ...to } : { request_id: original.id, ...to });
  };

  return (
    <section className="replay" aria-labelledby="replay-title" data-testid="replay-panel">
      <div className="card-head">
        <h3 id="replay-title" className="small-title">{t('replay.replay_to_another_provider')}</h3>
        <button className="btn btn-small" onClick={onClose}>{t('replay.close_replay')}</button>
      </div>
      <p className="muted small">{t('replay.sends_this_request_again_straight')}</p>
      <ErrorNote error={provs.error} title={t('replay.could_not_load_providers')} onRetry={provs.reload} />
      <div className="replay-form">
        <label className="field">
          <span>{t('replay.provider')}</span>
          <select value={provider} onChange={(e) => setProvider(e.target.value)} data-testid="replay-provider">
            {names.map((n) => (
              <option key={n} value={n}>
                {n}
                {n === original.provider ? ' (original)' : ''}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span>{t('replay.model')}</span>
          <input value={model} onChange={(e) => setModel(e.target.value)} placeholder={t('replay.model_at_that_provider')} data-testid="replay-model" />
        </label>
        <button className="btn btn-primary" disabled={replay.busy || !provider} onClick={() => send(false)} data-testid="replay-send">
          {replay.busy ? <Spinner label={t('replay.replaying')} /> : 'Replay'}
        </button>
      </div>
      {replay.error && (
        <div className="error-note" role="alert" data-testid="replay-error">
          <strong>{t('replay.the_replay_was_not_sent')}</strong> {replay.error.message}
          <div className="error-code">{replay.error.code}</div>
        </div>
      )}
      {!pasteOpen && (
        <button className="link-btn small" onClick={() => setPasteOpen(true)}>{t('replay.paste_a_body_instead')}</button>
      )}
      {pasteOpen && (
        <div className="replay-paste field">
          <label htmlFor="replay-body">{t('replay.body_label', { endpoint: original.endpoint })}</label>
          <textarea
            id="replay-body"
            value={paste}
            onChange={(e) => setPaste(e.target.value)}
            placeholder={'{"model": "…", "messages": [{"role": "user", "content": "…"}]}'}
            data-testid="replay-body"
            aria-invalid={pasteErr ? 'true' : undefined}
          />
          {pasteErr && <div className="field-msg">{pasteErr}</div>}
          <div className="row-end">
            <button className="btn btn-primary" disabled={replay.busy || !provider} onClick={() => send(true)} data-testid="replay-send-body">
              {replay.busy ? <Spinner label={t('replay.replaying')} /> : t('replay.replay_with_this_body')}
            </button>
          </div>
        </div>
      )}
      {report && <Compare original={report.original ?? original} replay={report.replay} />}
    </section>
  );
}

function Compare({ original: o, replay: r }: { original: RequestRow; replay: CallResult }) {
  const tokens = (a: number | null, b: number | null, est: boolean) =>
    a === null && b === null ? '—' : `${fmtNum(a)} / ${fmtNum(b)}${est ? ' (estimated)' : ''}`;
  return (
    <div className="compare" data-testid="replay-compare">
      <div data-testid="replay-original">
        <h4>{t('replay.original')}</h4>
        <dl>
          <dt>{t('replay.served_by')}</dt>
          <dd>
            {o.provider ?? '—'} <code>{o.forwarded_model ?? ''}</code>
          </dd>
          <dt>{t('replay.status')}</dt>
          <dd>{o.error ? <Badge tone="err">{`${o.status || 'error'} · ${o.error}`}</Badge> : <Badge tone="ok">{String(o.status)}</Badge>}</dd>
          <dt>{t('replay.latency')}</dt>
          <dd>{fmtMs(o.latency_ms)}</dd>
          <dt>{t('replay.first_token')}</dt>
          <dd>{fmtMs(o.ttft_ms)}</dd>
          <dt>{t('replay.tokens_in_out')}</dt>
          <dd>{tokens(o.tokens_in, o.tokens_out, o.tokens_estimated)}</dd>
          <dt>{t('replay.est_cost')}</dt>
          <dd>{fmtUsd(o.cost_usd)}</dd>
        </dl>
      </div>
      <div data-testid="replay-result">
        <h4>{t('replay.replay')}</h4>
        <dl>
          <dt>{t('replay.sent_to')}</dt>
          <dd>
            {r.provider} <code>{r.model}</code>
          </dd>
          <dt>{t('replay.status')}</dt>
          <dd data-testid="replay-status">
            {r.error ? <Badge tone="err">{`${r.status || 'error'} · ${r.error}`}</Badge> : <Badge tone="ok">{String(r.status)}</Badge>}
            {r.error_message && <div className="small err-text">{r.error_message}</div>}
          </dd>
          <dt>{t('replay.latency')}</dt>
          <dd>{fmtMs(r.latency_ms)}</dd>
          <dt>{t('replay.first_token')}</dt>
          <dd>{fmtMs(r.ttft_ms)}</dd>
          <dt>{t('replay.tokens_in_out')}</dt>
          <dd>{tokens(r.tokens_in, r.tokens_out, r.tokens_estimated)}</dd>
          <dt>{t('replay.est_cost')}</dt>
          <dd>{fmtUsd(r.cost_usd)}</dd>
        </dl>
        {r.response && (
          <details open>
            <summary className="small">{t('replay.response_excerpt')}</summary>
            <pre className="code-block" data-testid="replay-response">
              {excerpt(r.response)}
            </pre>
          </details>
        )}
      </div>
    </div>
  );
}

/** The response, pretty-printed when it is JSON, cut to a readable length. */
function excerpt(text: string, max = 2000): string {
  let t = text;
  try {
    t = JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    /* not JSON (e.g. an event stream): as is */
  }
  return t.length > max ? t.slice(0, max) + '…' : t;
}
