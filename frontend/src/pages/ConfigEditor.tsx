// The raw TOML editor, beside the visual editors: the live config file as
// text with highlighting (lib/toml.ts), checked by the gateway while you type
// (POST /config/diff: validation with line:column, and the diff against the
// live version), then published with a message like any other change.
import { useEffect, useMemo, useRef, useState } from 'react';
import { config } from '../api';
import { toApiError, type ApiError } from '../api/transport';
import type { Preview } from '../api/types';
import { useApp } from '../context';
import { DiffView, ErrorNote, Field, Spinner, ValidationList, useToast } from '../components/ui';
import { useAction } from '../lib/hooks';
import { tokenize } from '../lib/toml';
import { t } from '../i18n';

/** Wait this long after the last keystroke before asking the gateway to check. */
const CHECK_DELAY_MS = 350;

interface Base {
  version: number;
  toml: string;
}

export function ConfigEditor() {
  const app = useApp();
  const toast = useToast();
  const [base, setBase] = useState<Base>();
  const [loadErr, setLoadErr] = useState<ApiError>();
  const [text, setText] = useState('');
  const [preview, setPreview] = useState<Preview>();
  const [checkErr, setCheckErr] = useState<ApiError>();
  const [checking, setChecking] = useState(false);
  const [message, setMessage] = useState('');
  const seq = useRef(0);

  const load = () => {
    setLoadErr(undefined);
    config
      .live()
      .then((live) => config.version(live.version.id))
      .then(
        (v) => {
          setBase({ version: v.id, toml: v.toml ?? '' });
          setText(v.toml ?? '');
        },
        (e) => setLoadErr(toApiError(e)),
      );
  };
  useEffect(load, []);

  useEffect(() => {
    if (!base) return;
    const n = ++seq.current;
    setChecking(true);
    const id = setTimeout(() => {
      config.diff(text).then(
        (p) => {
          if (n !== seq.current) return;
          setPreview(p);
          setCheckErr(undefined);
          setChecking(false);
        },
        (e) => {
          if (n !== seq.current) return;
          setCheckErr(toApiError(e));
          setChecking(false);
        },
      );
    }, CHECK_DELAY_MS);
    return () => clearTimeout(id);
  }, [text, base]);

  const publish = useAction(async () => {
    if (!base) return;
    const p = await config.publish(text, message.trim() || t('configEditor.default_message'), base.version);
    toast('ok', p.unchanged ? t('configEditor.nothing_changed') : t('configEditor.published', { version: p.version.id }));
    setMessage('');
    setBase({ version: p.version.id, toml: text });
    app.reloadStatus();
  });

  const liveMoved = base && app.status && app.status.config_version !== base.version;
  const dirty = base !== undefined && text !== base.toml;
  const valid = preview?.validation.valid === true && !checking;

  return (
    <div className="page">
      <header className="page-head">
        <div>
          <h1 tabIndex={-1}>{t('configEditor.title')}</h1>
          <p className="muted">{t('configEditor.intro')}</p>
        </div>
      </header>
      <ErrorNote error={loadErr} title={t('configEditor.could_not_load')} onRetry={load} />
      {!base && !loadErr && (
        <p className="muted">
          <Spinner /> {t('configEditor.loading')}
        </p>
      )}
      {base && (
        <section className="card">
          <div className="card-head">
            <h2>{t('configEditor.editing_version', { version: base.version })}</h2>
            <span className="grow" />
            <button className="btn btn-small" onClick={() => setText(base.toml)} disabled={!dirty} data-testid="toml-revert">
              {t('configEditor.revert')}
            </button>
          </div>
          {liveMoved && (
            <p className="warn-text small" role="status">
              {t('configEditor.live_moved', { version: app.status?.config_version ?? '' })}{' '}
              <button className="link-btn" onClick={load}>
                {t('configEditor.load_live')}
              </button>
            </p>
          )}
          <TomlEditor value={text} onChange={setText} readOnly={!app.canWrite} />
          <div className="toml-status" aria-live="polite">
            {checking && (
              <p className="muted small">
                <Spinner /> {t('configEditor.checking')}
              </p>
            )}
            <ErrorNote error={checkErr} title={t('configEditor.could_not_check')} />
            {!checking && preview && <ValidationList validation={preview.validation} />}
            {!checking && preview && preview.restart_required.length > 0 && (
              <p className="warn-text small">{t('configEditor.restart_required', { what: preview.restart_required.join(', ') })}</p>
            )}
          </div>
          {preview && (
            <details className="diff-wrap" open={dirty}>
              <summary>{t('configEditor.diff_title', { version: preview.live_version })}</summary>
              <DiffView diff={preview.unified} emptyText={t('configEditor.no_changes')} />
            </details>
          )}
          {app.canWrite && (
            <>
              <Field label={t('configEditor.message')} htmlFor="toml-message">
                <input id="toml-message" value={message} onChange={(e) => setMessage(e.target.value)} maxLength={200} placeholder={t('configEditor.default_message')} data-testid="toml-message" />
              </Field>
              <ErrorNote error={publish.error} title={t('configEditor.not_published')} />
              <div className="row-end">
                <button className="btn btn-primary" onClick={() => void publish.run()} disabled={!dirty || !valid || publish.busy} data-testid="toml-publish">
                  {publish.busy ? <Spinner label={t('configEditor.publishing')} /> : t('configEditor.publish')}
                </button>
              </div>
            </>
          )}
          {!app.canWrite && <p className="small muted">{t('configEditor.read_only')}</p>}
        </section>
      )}
    </div>
  );
}

/** A textarea over a highlighted copy of its text (same font and padding, scroll kept in step). */
export function TomlEditor({ value, onChange, readOnly }: { value: string; onChange: (v: string) => void; readOnly?: boolean }) {
  const pre = useRef<HTMLPreElement>(null);
  const tokens = useMemo(() => tokenize(value), [value]);
  return (
    <div className="toml-editor">
      <pre className="toml-hl" aria-hidden="true" ref={pre}>
        {tokens.map((tk, i) => (
          <span key={i} className={`tk-${tk.kind}`}>
            {tk.text}
          </span>
        ))}
        {'\n'}
      </pre>
      <textarea
        className="toml-input"
        value={value}
        onChange={(e) => onChange(e.target.value)}
        onScroll={(e) => {
          if (pre.current) {
            pre.current.scrollTop = e.currentTarget.scrollTop;
            pre.current.scrollLeft = e.currentTarget.scrollLeft;
          }
        }}
        readOnly={readOnly}
        spellCheck={false}
        autoCapitalize="off"
        autoComplete="off"
        wrap="off"
        aria-label={t('configEditor.editor_label')}
        data-testid="toml-input"
      />
    </div>
  );
}
