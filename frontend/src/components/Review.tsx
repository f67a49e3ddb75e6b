// Review and publish a set of structured edits: the server applies the ops
// to the live config (comments survive), validates and diffs; the user reads
// the diff, writes a message and publishes.
import { useEffect, useState } from 'react';
import { config } from '../api';
import { toApiError, type ApiError } from '../api/transport';
import type { Draft, DraftOp, DiffSummary, Issue, Published } from '../api/types';
import { useAction } from '../lib/hooks';
import { ConfirmButtons, DiffView, ErrorNote, Field, Spinner, ValidationList } from './ui';
import { t, type MessageKey } from '../i18n';

export function summaryText(s: Partial<DiffSummary> | null | undefined): string {
  if (!s) return '';
  const parts: string[] = [];
  const add = (k: keyof DiffSummary, key: MessageKey) => {
    const v = s[k];
    if (v && v.length) parts.push(t(key, { names: v.join(', ') }));
  };
  add('providers_added', 'review.sum_provider_added');
  add('providers_changed', 'review.sum_provider_changed');
  add('providers_removed', 'review.sum_provider_removed');
  add('routes_added', 'review.sum_route_added');
  add('routes_changed', 'review.sum_route_changed');
  add('routes_removed', 'review.sum_route_removed');
  if (s.sections_changed?.length) parts.push(t('review.sum_sections_changed', { names: s.sections_changed.join('], [') }));
  return parts.join('; ');
}

/** Runs the draft for `ops` and keeps it fresh while `ops` change. */
export function useDraft(ops: DraftOp[] | null): { draft?: Draft; error?: ApiError; loading: boolean } {
  const [state, setState] = useState<{ draft?: Draft; error?: ApiError; loading: boolean }>({ loading: false });
  const key = ops ? JSON.stringify(ops) : '';
  useEffect(() => {
    if (!ops || ops.length === 0) {
      setState({ loading: false });
      return;
    }
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    config.draft(ops).then(
      (d) => live && setState({ draft: d, loading: false }),
      (e) => live && setState({ error: toApiError(e), loading: false }),
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  return state;
}

export function Review({
  ops,
  defaultMessage,
  onPublished,
  onCancel,
  before,
  publishLabel,
  cancelLabel,
  hideWarning,
}: {
  ops: DraftOp[];
  defaultMessage: string;
  onPublished: (p: Published) => void;
  onCancel?: () => void;
  /** Runs right before publishing (e.g. store a key); throw to stop. */
  before?: () => Promise<void>;
  publishLabel?: string;
  cancelLabel?: string;
  /** Warnings that publishing itself resolves (e.g. the key stored on publish). */
  hideWarning?: (i: Issue) => boolean;
}) {
  const { draft, error, loading } = useDraft(ops);
  const [message, setMessage] = useState(defaultMessage);
  const publish = useAction(async (d: Draft) => {
    if (before) await before();
    onPublished(await config.publish(d.toml, message.trim() || defaultMessage, d.preview.live_version));
  });

  const valid = draft?.preview.validation.valid === true;
  return (
    <div className="review" data-testid="review">
      <ErrorNote error={error} title={t('review.could_not_prepare_the_change')} />
      {loading && !draft && (
        <p className="muted">
          <Spinner />{' '}{t('review.checking_the_change')}</p>
      )}
      {draft && (
        <>
          <ValidationList validation={draft.preview.validation} hide={hideWarning} />
          {summaryText(draft.preview.summary) && <p className="summary">{summaryText(draft.preview.summary)}</p>}
          {draft.preview.restart_required.length > 0 && (
            <p className="warn-text small">{t('review.restart_required', { what: draft.preview.restart_required.join(', ') })}</p>
          )}
          <details open className="diff-wrap">
            <summary>{t('review.changes_against', { version: draft.preview.live_version })}</summary>
            <DiffView diff={draft.preview.unified} emptyText={t('review.this_leaves_the_config_as')} />
          </details>
          <Field label={t('review.message_for_the_history')} htmlFor="publish-message">
            <input id="publish-message" value={message} onChange={(e) => setMessage(e.target.value)} maxLength={200} data-testid="publish-message" />
          </Field>
        </>
      )}
      <ErrorNote error={publish.error} title={t('review.not_published')} />
      <div className="row-end">
        <ConfirmButtons
          confirmLabel={publishLabel ?? t('review.publish')}
          onConfirm={() => draft && publish.run(draft)}
          confirmTestId="publish"
          busy={publish.busy}
          busyLabel={t('review.publishing')}
          disabled={!valid || loading}
          onCancel={onCancel}
          cancelLabel={cancelLabel}
        />
      </div>
    </div>
  );
}
