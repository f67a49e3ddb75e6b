// Small building blocks: buttons with busy state, badges, empty states,
// errors in words, copy buttons, dialogs (and confirm dialogs with their
// Cancel / confirm buttons), diffs, validation lists, toasts.
import { createContext, useCallback, useContext, useEffect, useRef, useState, type ReactNode } from 'react';
import type { ApiError } from '../api/transport';
import type { Issue, Validation } from '../api/types';
import { t } from '../i18n';

export function Spinner({ label }: { label?: string }) {
  return <span className="spinner" role="status" aria-label={label ?? t('ui.loading')} />;
}

export function Badge({ tone = 'neutral', children, title }: { tone?: 'ok' | 'warn' | 'err' | 'neutral' | 'info'; children: ReactNode; title?: string }) {
  return (
    <span className={`badge badge-${tone}`} title={title}>
      {children}
    </span>
  );
}

export function Dot({ tone }: { tone: 'ok' | 'warn' | 'err' | 'neutral' }) {
  return <span className={`dot dot-${tone}`} aria-hidden="true" />;
}

/** An error from the API, in words, with its code for searching docs and logs. */
export function ErrorNote({ error, title, onRetry }: { error: ApiError | undefined | null; title?: string; onRetry?: () => void }) {
  if (!error) return null;
  return (
    <div className="error-note" role="alert">
      <div>
        <strong>{title ?? t('ui.something_went_wrong')}</strong>
        <p>{error.message}</p>
        {error.code && <code className="error-code">{error.code}</code>}
      </div>
      {onRetry && (
        <button className="btn btn-small" onClick={onRetry}>{t('ui.try_again')}</button>
      )}
    </div>
  );
}

export function EmptyState({ icon, title, children, actions }: { icon?: ReactNode; title: string; children?: ReactNode; actions?: ReactNode }) {
  return (
    <div className="empty-state">
      {icon && <div className="empty-icon" aria-hidden="true">{icon}</div>}
      <h3>{title}</h3>
      {children && <div className="empty-body">{children}</div>}
      {actions && <div className="empty-actions">{actions}</div>}
    </div>
  );
}

export function CopyButton({ text, label, className = '' }: { text: string; label?: string; className?: string }) {
  const [done, setDone] = useState<'idle' | 'ok' | 'fail'>('idle');
  const copy = async () => {
    try {
      if (navigator.clipboard?.writeText) {
        await navigator.clipboard.writeText(text);
      } else {
        const ta = document.createElement('textarea');
        ta.value = text;
        document.body.appendChild(ta);
        ta.select();
        document.execCommand('copy');
        ta.remove();
      }
      setDone('ok');
    } catch {
      setDone('fail');
    }
    setTimeout(() => setDone('idle'), 1600);
  };
  return (
    <button type="button" className={`btn btn-small ${className}`} onClick={copy} aria-live="polite">
      {done === 'ok' ? t('ui.copied') : done === 'fail' ? t('ui.select_and_copy') : (label ?? t('ui.copy'))}
    </button>
  );
}

/** A modal dialog (native <dialog>: focus is trapped, Esc closes). */
export function Dialog({
  open,
  title,
  onClose,
  children,
  footer,
  wide,
}: {
  open: boolean;
  title: string;
  onClose: () => void;
  children: ReactNode;
  footer?: ReactNode;
  wide?: boolean;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return (
    <dialog
      ref={ref}
      className={`dialog ${wide ? 'dialog-wide' : ''}`}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
      aria-labelledby="dialog-title"
    >
      {open && (
        <>
          <header className="dialog-head">
            <h2 id="dialog-title">{title}</h2>
            <button className="btn-icon" onClick={onClose} aria-label={t('ui.close')}>
              ×
            </button>
          </header>
          <div className="dialog-body">{children}</div>
          {footer && <footer className="dialog-foot">{footer}</footer>}
        </>
      )}
    </dialog>
  );
}

interface ConfirmProps {
  confirmLabel: ReactNode;
  onConfirm: () => void;
  confirmTestId?: string;
  /** Spinner (with `busyLabel`) instead of the label, and the button disabled. */
  busy?: boolean;
  busyLabel?: string;
  disabled?: boolean;
  onCancel?: () => void;
  cancelLabel?: string;
  /** Leave Cancel enabled while busy (a dialog closes with × or Esc anyway). */
  cancelWhileBusy?: boolean;
}

/** Cancel (when `onCancel` is given), then the primary confirm button. */
export function ConfirmButtons({
  confirmLabel,
  onConfirm,
  confirmTestId,
  busy = false,
  busyLabel,
  disabled = false,
  onCancel,
  cancelLabel,
  cancelWhileBusy = false,
}: ConfirmProps) {
  return (
    <>
      {onCancel && (
        <button className="btn" onClick={onCancel} disabled={busy && !cancelWhileBusy}>
          {cancelLabel ?? t('ui.cancel')}
        </button>
      )}
      <button className="btn btn-primary" onClick={onConfirm} disabled={busy || disabled} data-testid={confirmTestId}>
        {busy ? <Spinner label={busyLabel} /> : confirmLabel}
      </button>
    </>
  );
}

/** A dialog whose footer is Cancel (closes it) and a confirm button, after `extra` on the left. */
export function ConfirmDialog({
  open,
  title,
  onClose,
  wide,
  extra,
  children,
  ...confirm
}: {
  open: boolean;
  title: string;
  onClose: () => void;
  wide?: boolean;
  extra?: ReactNode;
  children: ReactNode;
} & Omit<ConfirmProps, 'onCancel' | 'cancelLabel' | 'cancelWhileBusy'>) {
  return (
    <Dialog
      open={open}
      title={title}
      onClose={onClose}
      wide={wide}
      footer={
        <>
          {extra}
          <span className="grow" />
          <ConfirmButtons {...confirm} onCancel={onClose} cancelWhileBusy />
        </>
      }
    >
      {children}
    </Dialog>
  );
}

/** A unified diff with added and removed lines colored. */
export function DiffView({ diff, emptyText }: { diff: string; emptyText?: string }) {
  if (!diff.trim()) return <p className="muted">{emptyText ?? t('ui.no_changes')}</p>;
  return (
    <pre className="diff" data-testid="diff">
      {diff.split('\n').map((line, i) => {
        const cls = line.startsWith('+++') || line.startsWith('---')
          ? 'diff-file'
          : line.startsWith('@@')
            ? 'diff-hunk'
            : line.startsWith('+')
              ? 'diff-add'
              : line.startsWith('-')
                ? 'diff-del'
                : '';
        return (
          <span key={i} className={cls}>
            {line + '\n'}
          </span>
        );
      })}
    </pre>
  );
}

function issueWhere(i: Issue): string {
  const pos = i.line ? ' ' + (i.column ? t('ui.at_line_col', { line: i.line, column: i.column }) : t('ui.at_line', { line: i.line })) : '';
  return (i.path || 'config') + pos;
}

export function ValidationList({ validation, hide }: { validation: Validation | undefined; hide?: (i: Issue) => boolean }) {
  if (!validation) return null;
  const warnings = hide ? validation.warnings.filter((w) => !hide(w)) : validation.warnings;
  return (
    <>
      {validation.valid && (
        <p className="valid-ok" data-testid="validation-ok">
          <Dot tone="ok" /> {warnings.length ? t('ui.valid_with_warnings') : t('ui.valid')}
        </p>
      )}
      {(validation.errors.length > 0 || warnings.length > 0) && (
        <ul className="issues" data-testid="validation-issues">
          {validation.errors.map((i, k) => (
            <li key={'e' + k} className="issue-err">
              <strong>{t('ui.error')}</strong> <code>{issueWhere(i)}</code> {i.message}
            </li>
          ))}
          {warnings.map((i, k) => (
            <li key={'w' + k} className="issue-warn">
              <strong>{t('ui.warning')}</strong> <code>{issueWhere(i)}</code> {i.message}
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

// ---- toasts -----------------------------------------------------------------

interface Toast {
  id: number;
  tone: 'ok' | 'err' | 'info';
  text: string;
}

const ToastCtx = createContext<(tone: Toast['tone'], text: string) => void>(() => {});

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const push = useCallback((tone: Toast['tone'], text: string) => {
    const id = Date.now() + Math.random();
    setToasts((t) => [...t.slice(-3), { id, tone, text }]);
    setTimeout(() => setToasts((t) => t.filter((x) => x.id !== id)), tone === 'err' ? 8000 : 4000);
  }, []);
  return (
    <ToastCtx.Provider value={push}>
      {children}
      <div className="toasts" aria-live="polite">
        {toasts.map((t) => (
          <div key={t.id} className={`toast toast-${t.tone}`} role={t.tone === 'err' ? 'alert' : 'status'}>
            {t.text}
          </div>
        ))}
      </div>
    </ToastCtx.Provider>
  );
}

export function useToast() {
  return useContext(ToastCtx);
}

export function Field({
  label,
  hint,
  error,
  children,
  htmlFor,
}: {
  label: string;
  hint?: ReactNode;
  error?: string;
  children: ReactNode;
  htmlFor?: string;
}) {
  return (
    <div className={`field ${error ? 'field-error' : ''}`}>
      <label htmlFor={htmlFor}>{label}</label>
      {children}
      {error ? <div className="field-msg">{error}</div> : hint ? <div className="field-hint">{hint}</div> : null}
    </div>
  );
}

export function Segmented<T extends string>({
  value,
  options,
  onChange,
  label,
}: {
  value: T;
  options: { id: T; label: string }[];
  onChange: (v: T) => void;
  label: string;
}) {
  return (
    <div className="segmented" role="radiogroup" aria-label={label}>
      {options.map((o) => (
        <button
          key={o.id}
          type="button"
          role="radio"
          aria-checked={o.id === value}
          className={o.id === value ? 'on' : ''}
          onClick={() => onChange(o.id)}
        >
          {o.label}
        </button>
      ))}
    </div>
  );
}
