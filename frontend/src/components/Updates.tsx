// The Updates section of "Updates & settings": check the signed release
// manifest, install (or only verify) the offered build, roll back to the
// kept one, then restart (the desktop app restarts itself; a browser says
// how). Words come from lib/updates.ts; calls from api/updates.ts.
import { useCallback, useEffect, useRef, useState, type ReactNode } from 'react';
import { onDesktopEvent, restartApp, updates } from '../api';
import { toApiError, type ApiError } from '../api/transport';
import type { UpdateCheck } from '../api/types';
import { useApp } from '../context';
import { ConfirmDialog, CopyButton, Dot, ErrorNote, Spinner } from './ui';
import { fmtAgo, fmtDateTime } from '../lib/format';
import {
  SERVICE_RESTART,
  applyWords,
  describeUpdate,
  failureWords,
  fromTrayEvent,
  keptFacts,
  restartMode,
  rollbackWords,
  splitCode,
  updateControls,
  type OpWords,
} from '../lib/updates';
import { t, tn } from '../i18n';

type Op = 'install' | 'verify' | 'rollback';

interface OpResult extends OpWords {
  op: Op;
  code?: string;
}

const progress = (): Record<Op, string> => ({
  install: t('updates.downloading_and_verifying'),
  verify: t('updates.downloading_and_verifying_nothing_will'),
  rollback: t('updates.rolling_back'),
});

function dotTone(t: OpWords['tone']): 'ok' | 'warn' | 'err' | 'neutral' {
  return t === 'info' ? 'ok' : t;
}

/** Re-renders every `ms` so "checked 2 min ago" stays true. */
function useNow(ms: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(id);
  }, [ms]);
  return now;
}

/** `onChanged`: after an install or a rollback (e.g. to reload the audit log). */
export function UpdatesSection({ onChanged }: { onChanged?: () => void }) {
  const app = useApp();
  const st = app.status;
  const now = useNow(30_000);
  const [check, setCheck] = useState<UpdateCheck>();
  const [checkErr, setCheckErr] = useState<ApiError>();
  const [checking, setChecking] = useState(false);
  const [checkedAt, setCheckedAt] = useState<number>();
  const [running, setRunning] = useState<Op | null>(null);
  const [result, setResult] = useState<OpResult>();
  const [confirm, setConfirm] = useState<Op | null>(null);
  const [restarting, setRestarting] = useState(false);
  const [restartErr, setRestartErr] = useState<ApiError>();

  const runCheck = useCallback(async () => {
    setChecking(true);
    try {
      setCheck(await updates.check());
      setCheckErr(undefined);
    } catch (e) {
      const err = toApiError(e);
      setCheckErr(err);
      // Nothing verified now: no offer to install, but a kept version can
      // still be restored (the gateway sends what it knows beside the error).
      setCheck((prev) => keptFacts(err, prev));
    } finally {
      setChecking(false);
      setCheckedAt(Date.now());
    }
  }, []);

  // Check once when the page opens: it fetches the small signed manifest only.
  useEffect(() => {
    void runCheck();
  }, [runCheck]);

  // In the desktop app, a check from the tray menu shows here too.
  const checkRef = useRef(check);
  checkRef.current = check;
  useEffect(
    () =>
      onDesktopEvent('update-check', (payload) => {
        const r = fromTrayEvent(checkRef.current, payload);
        if (!r) return;
        if ('error' in r) {
          setCheckErr(toApiError(r.error));
          setCheck((prev) => prev && { ...prev, status: undefined });
        } else {
          setCheck(r.check);
          setCheckErr(undefined);
        }
        setCheckedAt(Date.now());
      }),
    [],
  );

  const mode = restartMode(app.transport, check);
  const controls = updateControls(check, app.role, running !== null || checking);
  const words = check && !checkErr ? describeUpdate(check) : undefined;
  const s = check?.configured ? check.status : undefined;

  const run = async (op: Op) => {
    setConfirm(null);
    setRunning(op);
    setResult(undefined);
    setRestartErr(undefined);
    try {
      if (op === 'rollback') {
        setResult({ op, ...rollbackWords(await updates.rollback(), mode) });
      } else {
        const o = await updates.apply({ dry_run: op === 'verify', allow_downgrade: controls.install.allowDowngrade || undefined });
        setResult({ op, ...applyWords(o, mode) });
      }
    } catch (e) {
      const err = toApiError(e);
      setResult({ op, tone: 'err', text: failureWords(err), restart: 'none', code: err.code });
    } finally {
      setRunning(null);
    }
    // What is installed and what is kept for rollback may have changed.
    if (op !== 'verify') {
      onChanged?.();
      void runCheck();
    }
  };

  const restart = async () => {
    setRestarting(true);
    setRestartErr(undefined);
    try {
      await restartApp();
    } catch (e) {
      setRestartErr(toApiError(e));
      setRestarting(false);
    }
  };

  const prev = check?.previous ?? null;
  const rollbackPath = prev?.binary ?? s?.installed.path;
  const confirmTitle =
    confirm === 'rollback' ? `${controls.rollback.label}?` : confirm === 'install' ? `${controls.install.label}?` : '';

  return (
    <section className="card" aria-labelledby="upd-title" data-testid="updates">
      <div className="card-head">
        <h2 id="upd-title">{t('updates.version_and_updates')}</h2>
        <span className="muted small" data-testid="update-checked-at" title={checkedAt ? fmtDateTime(checkedAt) : undefined}>
          {checking ? t('updates.checking') : checkedAt ? t('updates.last_checked', { ago: fmtAgo(checkedAt, now) }) : t('updates.not_checked_yet')}
        </span>
      </div>
      <dl className="facts">
        <div>
          <dt>{t('updates.running_version')}</dt>
          <dd data-testid="version">{st ? st.version : <Spinner />}</dd>
        </div>
        <div>
          <dt>{t('updates.config_version')}</dt>
          <dd>{st?.config_version ?? '—'}</dd>
        </div>
        {s && !s.installed.is_self && (
          <div>
            <dt>{t('updates.binary_updated_here')}</dt>
            <dd className="mono small" data-testid="update-binary">
              {s.installed.path} ({s.installed.version})
            </dd>
          </div>
        )}
        {prev && (
          <div>
            <dt>{t('updates.kept_for_rollback')}</dt>
            <dd data-testid="update-previous" title={`saved ${prev.saved_at}`}>
              {prev.version} <span className="muted small">{t('updates.replaced_by', { version: prev.replaced_by })}</span>
            </dd>
          </div>
        )}
      </dl>

      <div className="update-status" aria-live="polite" aria-busy={checking} data-testid="update-status">
        {checking && !check && (
          <p className="muted">
            <Spinner label={t('updates.checking_for_updates')} />{' '}{t('updates.checking_for_updates_2')}</p>
        )}
        {words && (
          <>
            <p className={`update-headline update-${words.tone}`} data-testid="update-headline">
              <Dot tone={dotTone(words.tone)} /> {words.headline}
            </p>
            {words.detail && <p className="small">{withCode(words.detail)}</p>}
            {s?.notes_url && (
              <p className="small">
                <a href={s.notes_url} target="_blank" rel="noreferrer noopener">
                  {t('updates.release_notes_for', { version: s.offered })}
                </a>
              </p>
            )}
          </>
        )}
      </div>
      <ErrorNote error={checkErr} title={t('updates.could_not_check_for_updates')} onRetry={runCheck} />

      {check && !check.configured && (
        <div className="cmd">
          <code>aigw update check --manifest-url URL</code>
          <CopyButton text="aigw update check --manifest-url URL" />
        </div>
      )}
      {s && (
        <p className="small muted update-meta" data-testid="update-meta">
          {tn('updates.meta', {
            url: <span className="mono">{s.manifest_url}</span>,
            key: (
              <span className="mono" title={t('updates.the_release_public_key_base64')}>
                {s.key}
              </span>
            ),
            target: <span className="mono">{s.target}</span>,
          })}
        </p>
      )}

      <div className="toolbar update-actions">
        <button
          className={`btn ${controls.install.shown ? '' : 'btn-primary'}`}
          onClick={runCheck}
          disabled={checking || running !== null}
          data-testid="update-check"
        >
          {checking && <Spinner label={t('updates.checking_for_updates')} />} {t('updates.check_for_updates')}
        </button>
        {controls.install.shown && (
          <button
            className="btn btn-primary"
            disabled={!controls.install.enabled}
            onClick={() => setConfirm('install')}
            aria-describedby={controls.install.hint ? 'update-role-hint' : undefined}
            data-testid="update-install"
          >
            {controls.install.label}
          </button>
        )}
        {controls.verify.shown && (
          <button
            className="btn"
            disabled={!controls.verify.enabled}
            onClick={() => run('verify')}
            aria-describedby={controls.verify.hint ? 'update-role-hint' : undefined}
            data-testid="update-verify"
          >
            {controls.verify.label}
          </button>
        )}
        {controls.rollback.shown && (
          <button
            className="btn"
            disabled={!controls.rollback.enabled}
            onClick={() => setConfirm('rollback')}
            aria-describedby={controls.rollback.hint ? 'update-role-hint' : undefined}
            data-testid="update-rollback"
          >
            {controls.rollback.label}
          </button>
        )}
      </div>
      {app.role !== 'admin' && (controls.install.shown || controls.rollback.shown) && (
        <p className="small muted" id="update-role-hint" data-testid="update-role-hint">
          {controls.install.hint}
        </p>
      )}

      <div aria-live="polite" data-testid="update-result">
        {running && (
          <p className="update-progress" data-testid="update-progress">
            <Spinner label={progress()[running]} /> {progress()[running]}
          </p>
        )}
        {result && (
          <div className={`update-result update-${result.tone}`} role={result.tone === 'err' ? 'alert' : undefined} data-testid={`update-result-${result.tone === 'err' ? 'error' : 'ok'}`}>
            <p>
              <Dot tone={dotTone(result.tone)} /> {withCode(result.text)}
            </p>
            {result.code && <code className="error-code">{result.code}</code>}
            {result.restart === 'service' && (
              <div className="cmd">
                <span className="small muted">e.g.</span>
                <code>{SERVICE_RESTART}</code>
                <CopyButton text={SERVICE_RESTART} />
              </div>
            )}
            {result.restart === 'button' && (
              <div className="toolbar">
                <button className="btn btn-primary" onClick={restart} disabled={restarting} data-testid="update-restart">
                  {restarting && <Spinner label={t('updates.restarting')} />} {restarting ? t('updates.restarting_2') : t('updates.restart_now')}
                </button>
                <span className="small muted">{t('updates.the_gateway_stops_gracefully_requests')}</span>
              </div>
            )}
            <ErrorNote error={restartErr} title={t('updates.could_not_restart')} />
          </div>
        )}
      </div>

      <p className="small muted update-cli">
        {tn('updates.cli_hint', {
          check: <code>aigw update check</code>,
          apply: <code>aigw update apply</code>,
          dry: <code>--dry-run</code>,
          rollback: <code>aigw update rollback</code>,
        })}
        {app.transport === 'tauri' && t('updates.the_tray_menu_has_check')}
      </p>

      <ConfirmDialog
        open={confirm !== null}
        title={confirmTitle}
        onClose={() => setConfirm(null)}
        confirmLabel={confirm === 'rollback' ? controls.rollback.label : controls.install.label}
        onConfirm={() => confirm && run(confirm)}
        confirmTestId="update-confirm"
      >
        {confirm === 'install' && s && (
          <>
            <p>{tn('updates.this_replaces_with', { path: <code>{s.installed.path}</code>, installed: s.installed.version, offered: s.offered })}
            </p>
            <p className="small muted">
              {t('updates.install_explain', { version: s.installed.version })}
              {controls.install.allowDowngrade && t('updates.this_is_a_downgrade_you')}
            </p>
          </>
        )}
        {confirm === 'rollback' && prev && (
          <>
            <p>
              {tn(rollbackPath ? 'updates.puts_back_at' : 'updates.puts_back', { version: prev.version, path: <code>{rollbackPath}</code>, current: prev.replaced_by })}
            </p>
            <p className="small muted">
              {t('updates.kept_when', { version: prev.version, current: prev.replaced_by, when: releaseTime(prev.saved_at) })}
            </p>
          </>
        )}
      </ConfirmDialog>
    </section>
  );
}

/** Text from the gateway with `backticked` parts as code. */
function withCode(text: string): ReactNode {
  return splitCode(text).map((p, i) => (p.code ? <code key={i}>{p.text}</code> : p.text));
}

function releaseTime(saved: string): string {
  const t = Date.parse(saved);
  return Number.isFinite(t) ? ` (${fmtDateTime(t)})` : '';
}
