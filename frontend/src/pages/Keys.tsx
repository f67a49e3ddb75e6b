// Keys (team mode): virtual client keys with their team, allowed models,
// limits, budget burn-down and spend; create (the secret shown once, with a
// copy button), rotate (a new secret, shown once) and revoke; the keys and
// teams that spent most over the last 30 days.
import { useState } from 'react';
import { vkeys, type Issued, type Period, type VirtualKey } from '../api/vkeys';
import { useApp } from '../context';
import { Badge, ConfirmDialog, CopyButton, Dialog, EmptyState, ErrorNote, Field, Segmented, Spinner, useToast } from '../components/ui';
import { useAction, useAsync } from '../lib/hooks';
import { fmtDateTime, fmtNum, fmtUsd } from '../lib/format';
import { EMPTY_FORM, burnDown, burnTone, toNewKey, type KeyForm } from '../lib/vkeys';
import { t } from '../i18n';

export function Keys() {
  const app = useApp();
  const toast = useToast();
  const list = useAsync(() => vkeys.list(), [], 5000);
  const spend = useAsync(() => vkeys.spend(), [], 15000);
  const [creating, setCreating] = useState(false);
  const [secret, setSecret] = useState<Issued | null>(null);
  const [revoking, setRevoking] = useState<VirtualKey | null>(null);
  const revoke = useAction(
    async (k: VirtualKey) => {
      await vkeys.revoke(k.id);
      setRevoking(null);
      toast('ok', t('keys.revoked_toast', { name: k.name }));
      list.reload();
    },
    (e) => toast('err', e.message),
  );
  const rotate = useAction(
    async (k: VirtualKey) => {
      setSecret(await vkeys.rotate(k.id, 0));
      list.reload();
    },
    (e) => toast('err', e.message),
  );

  return (
    <div className="page">
      <header className="page-head">
        <div>
          <h1 tabIndex={-1}>{t('keys.title')}</h1>
          <p className="muted">{t('keys.lead')}</p>
        </div>
        {app.canWrite && (
          <button className="btn btn-primary" onClick={() => setCreating(true)} data-testid="vkey-create">
            {t('keys.create')}
          </button>
        )}
      </header>

      <section className="card">
        {list.error && <ErrorNote error={list.error} onRetry={list.reload} />}
        {!list.data && !list.error && <Spinner />}
        {list.data && list.data.length === 0 && <EmptyState title={t('keys.none_yet')}>{t('keys.none_yet_hint')}</EmptyState>}
        {list.data && list.data.length > 0 && (
          <table className="table" data-testid="vkeys-table">
            <thead>
              <tr>
                <th>{t('keys.name')}</th>
                <th>{t('keys.team')}</th>
                <th>{t('keys.status')}</th>
                <th>{t('keys.models')}</th>
                <th>{t('keys.budget')}</th>
                <th>{t('keys.resets')}</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {list.data.map((k) => (
                <KeyRow key={k.id} k={k} canWrite={app.canWrite} onRotate={() => rotate.run(k)} onRevoke={() => setRevoking(k)} />
              ))}
            </tbody>
          </table>
        )}
      </section>

      <section className="card" aria-labelledby="top-keys">
        <h2 id="top-keys">{t('keys.top_keys')}</h2>
        {spend.error && <ErrorNote error={spend.error} />}
        {spend.data && spend.data.keys.length === 0 && <p className="muted">{t('keys.no_spend')}</p>}
        {spend.data && spend.data.keys.length > 0 && (
          <table className="table" data-testid="vkeys-spend">
            <thead>
              <tr>
                <th>{t('keys.name')}</th>
                <th>{t('keys.team')}</th>
                <th>{t('keys.requests')}</th>
                <th>{t('keys.tokens')}</th>
                <th>{t('keys.spent')}</th>
              </tr>
            </thead>
            <tbody>
              {[...spend.data.keys, ...spend.data.teams].map((r) => (
                <tr key={`${r.virtual_key ?? 'team'}:${r.team ?? ''}`}>
                  <td>{r.name ?? <em>{t('keys.whole_team')}</em>}</td>
                  <td>{r.team ?? '—'}</td>
                  <td>{fmtNum(r.requests)}</td>
                  <td>{fmtNum(r.tokens_in + r.tokens_out)}</td>
                  <td>{fmtUsd(r.cost_usd)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      <CreateDialog
        open={creating}
        onClose={() => setCreating(false)}
        onCreated={(i) => {
          setCreating(false);
          setSecret(i);
          list.reload();
        }}
      />
      <Dialog open={secret !== null} title={t('keys.secret_title', { name: secret?.key.name ?? '' })} onClose={() => setSecret(null)}>
        {secret && (
          <>
            <p>{t('keys.secret_once')}</p>
            <p>
              <code data-testid="vkey-secret">{secret.secret}</code> <CopyButton text={secret.secret} />
            </p>
          </>
        )}
      </Dialog>
      <ConfirmDialog
        open={revoking !== null}
        title={t('keys.revoke_title', { name: revoking?.name ?? '' })}
        onClose={() => setRevoking(null)}
        confirmLabel={t('keys.revoke')}
        confirmTestId="vkey-revoke-confirm"
        busy={revoke.busy}
        onConfirm={() => revoking && revoke.run(revoking)}
      >
        <p>{t('keys.revoke_explain')}</p>
      </ConfirmDialog>
    </div>
  );
}

function KeyRow({ k, canWrite, onRotate, onRevoke }: { k: VirtualKey; canWrite: boolean; onRotate: () => void; onRevoke: () => void }) {
  const share = burnDown(k);
  const tone = k.status === 'active' ? 'ok' : k.status === 'expired' ? 'warn' : 'err';
  return (
    <tr data-testid={`vkey-${k.name}`}>
      <td>
        <strong>{k.name}</strong>
        <div className="muted mono">{k.prefix}…</div>
      </td>
      <td>{k.team ?? '—'}</td>
      <td>
        <Badge tone={tone}>{t(`keys.status_${k.status}`)}</Badge>
      </td>
      <td className="mono">{k.models.length ? k.models.join(', ') : t('keys.any_model')}</td>
      <td>
        {share === null ? (
          <span>{fmtUsd(k.spent_usd)}</span>
        ) : (
          <div title={t('keys.burn_title', { spent: fmtUsd(k.spent_usd), budget: fmtUsd(k.budget_usd), period: t(`keys.period_${k.period}`) })}>
            <meter min={0} max={1} value={share} low={0.8} high={0.99} optimum={0} aria-label={t('keys.budget')} />{' '}
            <Badge tone={burnTone(share)}>
              {fmtUsd(k.spent_usd)} / {fmtUsd(k.budget_usd)}
            </Badge>
          </div>
        )}
      </td>
      <td>{fmtDateTime(k.resets_at_ms)}</td>
      <td>
        {canWrite && k.status === 'active' && (
          <>
            <button className="btn btn-small" onClick={onRotate}>
              {t('keys.rotate')}
            </button>{' '}
            <button className="btn btn-small" onClick={onRevoke} data-testid={`vkey-revoke-${k.name}`}>
              {t('keys.revoke')}
            </button>
          </>
        )}
      </td>
    </tr>
  );
}

function CreateDialog({ open, onClose, onCreated }: { open: boolean; onClose: () => void; onCreated: (i: Issued) => void }) {
  const [form, setForm] = useState<KeyForm>(EMPTY_FORM);
  const [bad, setBad] = useState<keyof KeyForm>();
  const create = useAction(async () => {
    const r = toNewKey(form);
    setBad(r.error);
    if (!r.body) return;
    onCreated(await vkeys.create(r.body));
    setForm(EMPTY_FORM);
  });
  const input = (f: keyof KeyForm, label: string, hint?: string) => (
    <Field label={label} htmlFor={`vk-${f}`} hint={hint} error={bad === f ? t('keys.invalid_field') : undefined}>
      <input id={`vk-${f}`} value={form[f]} onChange={(e) => setForm({ ...form, [f]: e.target.value })} />
    </Field>
  );
  const periods: { id: Period; label: string }[] = (['daily', 'weekly', 'monthly'] as const).map((p) => ({ id: p, label: t(`keys.period_${p}`) }));
  return (
    <ConfirmDialog open={open} title={t('keys.create')} onClose={onClose} confirmLabel={t('keys.create')} confirmTestId="vkey-create-confirm" busy={create.busy} onConfirm={() => create.run()}>
      {create.error && <ErrorNote error={create.error} />}
      {input('name', t('keys.name'))}
      {input('team', t('keys.team'))}
      {input('models', t('keys.models'), t('keys.models_hint'))}
      {input('rpm', t('keys.rpm'))}
      {input('tpm', t('keys.tpm'))}
      {input('budget', t('keys.budget_usd'))}
      <Segmented label={t('keys.period')} value={form.period} options={periods} onChange={(p) => setForm({ ...form, period: p })} />
      {input('expiresDays', t('keys.expires_days'))}
      {input('tags', t('keys.tags'), t('keys.tags_hint'))}
    </ConfirmDialog>
  );
}
