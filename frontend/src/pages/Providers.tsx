// Providers & keys: the configured providers with key presence and health,
// add/edit/remove from presets (server-side structured edits, reviewed
// before publishing), keys set write-only, probes, local server detection.
import { useEffect, useMemo, useState } from 'react';
import { config, keys as keysApi, providers as providersApi } from '../api';
import { ApiError, toApiError } from '../api/transport';
import type { DraftOp, LocalServer, ProbeReport, ProviderInfo } from '../api/types';
import { useApp } from '../context';
import { Review } from '../components/Review';
import { BedrockFields } from '../components/BedrockFields';
import { AzureFields } from '../components/AzureFields';
import { EnabledToggle, KeyPool, ToggleDialog } from '../components/ProviderSwitch';
import { VertexFields } from '../components/VertexFields';
import { Badge, ConfirmDialog, Dialog, Dot, EmptyState, ErrorNote, Field, Spinner, useToast } from '../components/ui';
import { fmtMs } from '../lib/format';
import { healthText, healthTone, keyText, worstTone } from '../lib/health';
import { navigate, useAction, useAsync, useHashRoute } from '../lib/hooks';
import {
  checkProviderForm,
  formFromPreset,
  formFromProvider,
  presetFor,
  PRESETS,
  providerSpecOf,
  suggestName,
  type Preset,
  type ProviderForm,
} from '../lib/presets';
import { t } from '../i18n';

type Editing =
  | { mode: 'pick' }
  | { mode: 'form'; form: ProviderForm; original?: string; originalForm?: ProviderForm; preset: Preset }
  | { mode: 'review'; form: ProviderForm; original?: string; originalForm?: ProviderForm; preset: Preset }
  | { mode: 'remove'; name: string }
  | { mode: 'toggle'; name: string; enabled: boolean }
  | { mode: 'key'; provider: ProviderInfo };

export function Providers() {
  const app = useApp();
  const toast = useToast();
  const { params } = useHashRoute();
  const list = useAsync(() => providersApi.list(), [], 10_000);
  const keyList = useAsync(() => keysApi.list(), []);
  const local = useAsync(() => providersApi.detectLocal(), []);
  const [editing, setEditing] = useState<Editing | null>(null);
  const [probes, setProbes] = useState<Record<string, ProbeReport | ApiError | 'busy'>>({});

  useEffect(() => {
    if (params.get('add') === '1' && app.canWrite) {
      setEditing({ mode: 'pick' });
      navigate('providers');
    }
  }, [params, app.canWrite]);

  const names = useMemo(() => (list.data ?? []).map((p) => p.name), [list.data]);
  const undetected = (local.data ?? []).filter(
    (s) => !(list.data ?? []).some((p) => p.base_url.replace(/\/+$/, '') === s.base_url.replace(/\/+$/, '')),
  );

  const refresh = () => {
    list.reload();
    keyList.reload();
    app.reloadStatus();
  };

  const probe = async (name: string) => {
    setProbes((p) => ({ ...p, [name]: 'busy' }));
    try {
      const r = await providersApi.probe(name);
      setProbes((p) => ({ ...p, [name]: r }));
    } catch (e) {
      setProbes((p) => ({ ...p, [name]: toApiError(e) }));
    }
  };

  return (
    <div className="page">
      <header className="page-head">
        <div>
          <h1 tabIndex={-1}>{t('providers.providers_keys')}</h1>
          <p className="muted">{t('providers.where_requests_go_keys_live')}</p>
        </div>
        {app.canWrite && (
          <button className="btn btn-primary" onClick={() => setEditing({ mode: 'pick' })} data-testid="add-provider">{t('providers.add_provider')}</button>
        )}
      </header>

      {undetected.length > 0 && app.canWrite && (
        <div className="card detected" data-testid="detected-local">
          {undetected.map((s) => (
            <DetectedServer key={s.base_url} server={s} taken={names} onAdded={refresh} />
          ))}
        </div>
      )}

      <ErrorNote error={list.error} title={t('providers.could_not_load_providers')} onRetry={list.reload} />
      {list.loading && !list.data && <Spinner />}

      {list.data && list.data.length === 0 && (
        <div className="card">
          <EmptyState
            icon="⇄"
            title={t('providers.no_providers_yet_add_one')}
            actions={
              app.canWrite && (
                <button className="btn btn-primary" onClick={() => setEditing({ mode: 'pick' })}>{t('providers.choose_a_provider')}</button>
              )
            }
          >
            {t('providers.empty_intro')}{' '}{local.loading ? t('providers.looking_for_local_model_servers') : undetected.length === 0 ? t('providers.no_local_found') : ''}
          </EmptyState>
        </div>
      )}

      {list.data && list.data.length > 0 && (
        <div className="provider-list" data-testid="provider-list">
          {list.data.map((p) => {
            const k = keyText(p.key);
            const tone = p.key === 'missing' ? 'err' : worstTone(p.targets.map((t) => t.health));
            const pr = probes[p.name];
            return (
              <article key={p.name} className="card provider" data-testid={`provider-${p.name}`}>
                <div className="provider-main">
                  <Dot tone={tone} />
                  <div className="grow">
                    <h3>
                      {p.name} <span className="muted small">{presetFor(p.base_url, p.kind).label} · {p.kind}</span>
                      {!p.enabled && (
                        <>
                          {' '}
                          <Badge tone="warn">{t('providerSwitch.disabled')}</Badge>
                        </>
                      )}
                    </h3>
                    <div className="mono small muted">{p.base_url}</div>
                    <div className="provider-meta small">
                      <Badge tone={k.tone === 'neutral' ? 'neutral' : k.tone} title={p.key_error ?? undefined}>
                        {k.text}
                      </Badge>
                      {p.api_key_ref && <code>{p.api_key_ref}</code>}
                      {p.key_error && <span className="err-text">{p.key_error}</span>}
                      <span className="muted">{t('providers.timeout_meta', { n: p.timeout_s })}</span>
                      {p.rpm > 0 && <span className="muted">{p.rpm} rpm</span>}
                      {p.tpm > 0 && <span className="muted">{p.tpm} tpm</span>}
                    </div>
                    <KeyPool keys={p.keys} rotation={p.key_rotation} />
                    {p.targets.length > 0 && (
                      <ul className="targets small">
                        {p.targets.map((tg) => (
                          <li key={tg.model}>
                            <Dot tone={healthTone(tg.health)} /> {tg.model || t('providers.as_requested')} — {healthText(tg.health)}
                          </li>
                        ))}
                      </ul>
                    )}
                  </div>
                  <div className="provider-actions">
                    <button className="btn btn-small" onClick={() => probe(p.name)} disabled={pr === 'busy'} data-testid={`probe-${p.name}`}>
                      {pr === 'busy' ? <Spinner /> : t('providers.probe')}
                    </button>
                    {app.canWrite && p.api_key_ref?.startsWith('keyring:') && (
                      <button className="btn btn-small" onClick={() => setEditing({ mode: 'key', provider: p })}>
                        {p.key === 'present' ? t('providers.replace_key') : t('providers.set_key')}
                      </button>
                    )}
                    {app.canWrite && (
                      <>
                        <EnabledToggle name={p.name} enabled={p.enabled} onToggle={() => setEditing({ mode: 'toggle', name: p.name, enabled: !p.enabled })} />
                        <button
                          className="btn btn-small"
                          onClick={() => setEditing({ mode: 'form', form: formFromProvider(p), original: p.name, originalForm: formFromProvider(p), preset: presetFor(p.base_url, p.kind) })}
                          data-testid={`edit-${p.name}`}
                        >{t('providers.edit')}</button>
                        <button className="btn btn-small btn-danger-ghost" onClick={() => setEditing({ mode: 'remove', name: p.name })} data-testid={`remove-${p.name}`}>{t('providers.remove')}</button>
                      </>
                    )}
                  </div>
                </div>
                {pr && pr !== 'busy' && <ProbeResult r={pr} />}
              </article>
            );
          })}
        </div>
      )}

      <KeysSection keys={keyList} />

      <Dialog open={editing?.mode === 'pick'} title={t('providers.add_a_provider')} onClose={() => setEditing(null)} wide>
        <p className="muted">{t('providers.pick_a_preset_you_can')}</p>
        <div className="preset-grid" data-testid="preset-grid">
          {PRESETS.map((p) => (
            <button
              key={p.id}
              className="preset"
              onClick={() => setEditing({ mode: 'form', form: formFromPreset(p, names), preset: p })}
              data-testid={`preset-${p.id}`}
            >
              <strong>{p.label}</strong>
              <span className="muted small">{p.local ? t('providers.local_no_key') : p.kind === 'vertex' ? 'aiplatform.googleapis.com' : p.base_url.replace(/^https?:\/\//, '') || t('providers.your_url')}</span>
            </button>
          ))}
        </div>
      </Dialog>

      {(editing?.mode === 'form' || editing?.mode === 'review') && (
        <ProviderDialog
          editing={editing}
          taken={names}
          onChange={setEditing}
          onClose={() => setEditing(null)}
          onDone={(msg) => {
            setEditing(null);
            toast('ok', msg);
            refresh();
          }}
        />
      )}

      {editing?.mode === 'remove' && (
        <Dialog open title={t('providers.remove_provider_title', { name: editing.name })} onClose={() => setEditing(null)} wide>
          <p>{t('providers.routes_that_use')}{' '}<strong>{editing.name}</strong>{' '}{t('providers.must_be_changed_first_the')}</p>
          <Review
            ops={[{ op: 'remove_provider', name: editing.name }]}
            defaultMessage={t('providers.remove_provider_msg', { name: editing.name })}
            publishLabel={t('providers.remove_and_publish')}
            onCancel={() => setEditing(null)}
            onPublished={(p) => {
              setEditing(null);
              toast('ok', t('providers.removed_toast', { name: editing.name, version: p.version.id }));
              refresh();
            }}
          />
        </Dialog>
      )}

      {editing?.mode === 'toggle' && (
        <ToggleDialog
          name={editing.name}
          enabled={editing.enabled}
          onClose={() => setEditing(null)}
          onPublished={(p) => {
            setEditing(null);
            toast('ok', t(editing.enabled ? 'providerSwitch.enabled_toast' : 'providerSwitch.disabled_toast', { name: editing.name, version: p.version.id }));
            refresh();
          }}
        />
      )}

      {editing?.mode === 'key' && (
        <SetKeyDialog
          provider={editing.provider}
          onClose={() => setEditing(null)}
          onDone={() => {
            setEditing(null);
            toast('ok', t('providers.key_stored_in_the_keychain'));
            refresh();
          }}
        />
      )}
    </div>
  );
}

function ProbeResult({ r }: { r: ProbeReport | ApiError }) {
  if (r instanceof Error) return <ErrorNote error={r} title={t('providers.probe_failed')} />;
  const ok = r.reachable && r.auth_ok !== false && !r.error;
  return (
    <div className={`probe ${ok ? 'probe-ok' : 'probe-bad'}`} data-testid="probe-result" role="status">
      <strong>{ok ? t('providers.reachable') : r.reachable ? t('providers.reachable_but') : t('providers.not_reachable')}</strong>
      <span>{r.status !== null ? `HTTP ${r.status}` : ''}</span>
      {r.latency_ms !== null && <span>{fmtMs(r.latency_ms)}</span>}
      {r.auth_ok === false && <span className="err-text">{t('providers.the_key_was_refused_check')}</span>}
      {r.error && <span className="err-text">{r.error}</span>}
      {r.models.length > 0 && (
        <details>
          <summary>{t(r.models.length === 1 ? 'providers.one_model' : 'providers.n_models', { n: r.models.length })}</summary>
          <div className="model-chips">
            {r.models.slice(0, 60).map((m) => (
              <code key={m}>{m}</code>
            ))}
            {r.models.length > 60 && <span className="muted">{t('providers.and_n_more', { n: r.models.length - 60 })}</span>}
          </div>
        </details>
      )}
    </div>
  );
}

function DetectedServer({ server, taken, onAdded }: { server: LocalServer; taken: string[]; onAdded: () => void }) {
  const toast = useToast();
  const preset = PRESETS.find((p) => p.id === server.name) ?? presetFor(server.base_url);
  const add = useAction(async () => {
    const name = suggestName(server.name, taken);
    const op: DraftOp = {
      op: 'upsert_provider',
      provider: { name, kind: 'openai', base_url: server.base_url, api_key: null, models: server.models.slice(0, 50) },
    };
    const d = await config.draft([op]);
    if (!d.preview.validation.valid) {
      throw new ApiError('invalid_config', d.preview.validation.errors.map((e) => `${e.path}: ${e.message}`).join('; '));
    }
    const p = await config.publish(d.toml, t('providers.add_local_msg', { preset: preset.label }), d.preview.live_version);
    toast('ok', t('providers.added_preset_as', { preset: preset.label, name, version: p.version.id }));
    onAdded();
  });
  return (
    <div className="detected-item">
      <div className="grow">
        <strong>{t('providers.local_running', { preset: preset.label })}</strong>
        <div className="small muted">
          {server.base_url} · {t(server.models.length === 1 ? 'providers.one_model' : 'providers.n_models', { n: server.models.length })}
          {server.models.length > 0 && ': ' + server.models.slice(0, 4).join(', ') + (server.models.length > 4 ? '…' : '')}
        </div>
        <ErrorNote error={add.error} title={t('providers.could_not_add', { preset: preset.label })} />
      </div>
      <button className="btn btn-primary" onClick={add.run} disabled={add.busy}>
        {add.busy ? <Spinner /> : t('providers.add_preset', { preset: preset.label })}
      </button>
    </div>
  );
}

function ProviderDialog({
  editing,
  taken,
  onChange,
  onClose,
  onDone,
}: {
  editing: Extract<Editing, { mode: 'form' | 'review' }>;
  taken: string[];
  onChange: (e: Editing) => void;
  onClose: () => void;
  onDone: (msg: string) => void;
}) {
  const { form, original, originalForm, preset } = editing;
  const issues = checkProviderForm(form, taken, original);
  const err = (f: keyof ProviderForm) => issues.find((i) => i.field === f)?.message;
  const [touched, setTouched] = useState(false);
  const set = (patch: Partial<ProviderForm>) => onChange({ ...editing, form: { ...form, ...patch } });
  const title = original ? t('providers.edit_provider_title', { name: original }) : t('providers.add_preset', { preset: preset.label });

  const ops: DraftOp[] = [{ op: 'upsert_provider', provider: providerSpecOf(form, originalForm) }];
  const review = () => {
    setTouched(true);
    if (issues.length === 0) onChange({ ...editing, mode: 'review' });
  };

  if (editing.mode === 'review') {
    return (
      <Dialog open title={title + ': review'} onClose={onClose} wide>
        {form.secret && (
          <p className="small muted">{t('providers.the_key_is_stored_in')}{' '}<code>{form.key_ref}</code>{' '}{t('providers.when_you_publish')}</p>
        )}
        <Review
          ops={ops}
          defaultMessage={original ? t('providers.edit_provider_msg', { name: form.name }) : t('providers.add_provider_msg', { name: form.name }) + (preset.id === 'custom' ? '' : ` (${preset.label})`)}
          onCancel={() => onChange({ ...editing, mode: 'form' })}
          cancelLabel={t('providers.back')}
          hideWarning={form.secret && form.key_mode === 'keyring' ? (i) => (i.path.endsWith('.api_key') || i.path.endsWith('.service_account')) && i.message.includes(`"${form.key_ref}"`) : undefined}
          before={form.secret && form.key_mode === 'keyring' ? async () => void (await keysApi.set(form.key_ref, form.secret)) : undefined}
          onPublished={(p) => onDone(t(original ? 'providers.saved_name' : 'providers.added_name', { name: form.name, version: p.version.id }))}
        />
      </Dialog>
    );
  }

  return (
    <ConfirmDialog
      open
      title={title}
      onClose={onClose}
      wide
      extra={
        !original && (
          <button className="btn" onClick={() => onChange({ mode: 'pick' })}>{t('providers.presets')}</button>
        )
      }
      confirmLabel={t('providers.review_changes')}
      onConfirm={review}
      confirmTestId="provider-review"
    >
      <form
        className="form-grid"
        onSubmit={(e) => {
          e.preventDefault();
          review();
        }}
      >
        <Field
          label={t('providers.name')}
          htmlFor="pf-name"
          hint={original ? t('providers.routes_refer_to_providers_by') : t('providers.unique_clients_can_also_ask')}
          error={touched || form.name ? err('name') : undefined}
        >
          <input id="pf-name" value={form.name} onChange={(e) => set({ name: e.target.value.toLowerCase() })} readOnly={!!original} autoFocus={!original} data-testid="pf-name" />
        </Field>
        <Field label={t('providers.kind')} htmlFor="pf-kind">
          <select id="pf-kind" value={form.kind} onChange={(e) => set({ kind: e.target.value as ProviderForm['kind'] })}>
            <option value="openai">{t('providers.openai_compatible')}</option>
            <option value="anthropic">{t('providers.anthropic_messages_api')}</option>
            <option value="azure">{t('azure.kind')}</option>
            <option value="gemini">{t('providers.gemini_api')}</option>
            <option value="vertex">{t('providers.vertex_ai')}</option>
            <option value="bedrock">{t('providers.aws_bedrock')}</option>
          </select>
        </Field>
        {form.kind === 'vertex' && <VertexFields form={form} set={set} err={(f) => (touched ? err(f) : undefined)} editing={!!original} />}
        <Field label={t('providers.base_url')} htmlFor="pf-url" hint={form.kind === 'vertex' ? t('providers.vertex_base_url_hint') : preset.hint} error={touched || form.base_url ? err('base_url') : undefined}>
          <input id="pf-url" value={form.base_url} onChange={(e) => set({ base_url: e.target.value })} placeholder={t('providers.https_api_example_com_v1')} spellCheck={false} data-testid="pf-url" />
        </Field>
        {form.kind === 'azure' && (
          <AzureFields apiVersion={form.api_version} deployments={form.deployments} errors={{ api_version: err('api_version'), deployments: err('deployments') }} onChange={set} />
        )}
        {form.kind === 'bedrock' && (
          <BedrockFields
            aws={form.aws ?? { region: '', key_id: '', secret: '', session: '' }}
            baseUrl={form.base_url}
            error={err('aws')}
            onChange={(aws, base_url) => set({ aws, base_url })}
          />
        )}
        {form.kind !== 'bedrock' && <Field label={form.kind === 'vertex' ? t('providers.vertex_service_account') : t('providers.api_key')} htmlFor="pf-keymode" hint={form.kind === 'vertex' ? preset.hint : undefined} error={touched ? err('key_mode') : undefined}>
          <select id="pf-keymode" value={form.key_mode} onChange={(e) => set({ key_mode: e.target.value as ProviderForm['key_mode'], key_ref: e.target.value === 'keyring' ? form.key_ref || form.name : e.target.value === 'env' ? `${form.name.toUpperCase().replace(/-/g, '_')}_API_KEY` : '' })}>
            <option value="keyring">{t('providers.stored_in_the_os_keychain')}</option>
            <option value="env">{t('providers.from_an_environment_variable')}</option>
            <option value="none">{t('providers.no_key_local_server')}</option>
            <option value="client">{t('providers.the_client_s_own_subscriptions')}</option>
          </select>
        </Field>}
        {form.kind !== 'bedrock' && form.key_mode === 'client' && (
          <p className="field-hint span-2" data-testid="pf-client-hint">{t('providers.each_client_s_own')}{' '}<code>authorization</code> / <code>x-api-key</code>{' '}{t('providers.is_forwarded_to_this_provider')}{' '}<code>x-aigw-key</code>{' '}{t('providers.claude_code')}{' '}<code>ANTHROPIC_CUSTOM_HEADERS="x-aigw-key: …"</code>).
          </p>
        )}
        {form.kind !== 'bedrock' && (form.key_mode === 'keyring' || form.key_mode === 'env') && (
          <Field label={form.key_mode === 'keyring' ? t('providers.keychain_entry_name') : t('providers.environment_variable')} htmlFor="pf-keyref" error={err('key_ref')}>
            <input id="pf-keyref" value={form.key_ref} onChange={(e) => set({ key_ref: e.target.value })} spellCheck={false} />
          </Field>
        )}
        {form.kind !== 'bedrock' && form.key_mode === 'keyring' && (
          <Field
            label={original ? t('providers.new_secret_leave_empty_to') : t('providers.secret')}
            htmlFor="pf-secret"
            hint={t('providers.saved_to_the_keychain_when')}
          >
            <input id="pf-secret" type="password" autoComplete="off" value={form.secret} onChange={(e) => set({ secret: e.target.value })} placeholder={form.kind === 'vertex' ? t('providers.vertex_paste_json') : t('providers.sk')} data-testid="pf-secret" />
          </Field>
        )}
        <details className="span-2">
          <summary>{t('providers.limits_and_models')}</summary>
          <div className="form-grid">
            <Field label={t('providers.timeout_s')} htmlFor="pf-timeout" hint={t('providers.default_60')} error={err('timeout_s')}>
              <input id="pf-timeout" inputMode="numeric" value={form.timeout_s} onChange={(e) => set({ timeout_s: e.target.value })} placeholder="60" />
            </Field>
            <Field label={t('providers.requests_min')} htmlFor="pf-rpm" hint={t('providers.0_unlimited')} error={err('rpm')}>
              <input id="pf-rpm" inputMode="numeric" value={form.rpm} onChange={(e) => set({ rpm: e.target.value })} placeholder="0" />
            </Field>
            <Field label={t('providers.tokens_min')} htmlFor="pf-tpm" hint={t('providers.0_unlimited')} error={err('tpm')}>
              <input id="pf-tpm" inputMode="numeric" value={form.tpm} onChange={(e) => set({ tpm: e.target.value })} placeholder="0" />
            </Field>
            <Field label={t('providers.models')} htmlFor="pf-models" hint={original ? t('providers.models_already_configured_stay_unless') : t('providers.models_hint')}>
              <input id="pf-models" value={form.models} onChange={(e) => set({ models: e.target.value })} placeholder={preset.example_model} spellCheck={false} />
            </Field>
          </div>
        </details>
        <button type="submit" hidden />
      </form>
    </ConfirmDialog>
  );
}

function SetKeyDialog({ provider, onClose, onDone }: { provider: ProviderInfo; onClose: () => void; onDone: () => void }) {
  const name = (provider.api_key_ref ?? '').replace(/^keyring:/, '');
  const [secret, setSecret] = useState('');
  const save = useAction(async () => {
    await keysApi.set(name, secret);
    setSecret('');
    onDone();
  });
  return (
    <ConfirmDialog
      open
      title={t('providers.key_for', { name: provider.name })}
      onClose={onClose}
      confirmLabel={t('providers.save_to_keychain')}
      onConfirm={save.run}
      confirmTestId="save-key"
      busy={save.busy}
      disabled={!secret.trim()}
    >
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (secret.trim()) void save.run();
        }}
      >
        <Field label={t('providers.secret_for', { name })} htmlFor="key-secret" hint={t('providers.write_only_the_gateway_uses')}>
          <input id="key-secret" type="password" autoComplete="off" autoFocus value={secret} onChange={(e) => setSecret(e.target.value)} />
        </Field>
      </form>
      <ErrorNote error={save.error} title={t('providers.key_not_saved')} />
    </ConfirmDialog>
  );
}

function KeysSection({ keys }: { keys: ReturnType<typeof useAsync<Awaited<ReturnType<typeof keysApi.list>>>> }) {
  const app = useApp();
  const toast = useToast();
  const remove = useAction(async (name: string) => {
    await keysApi.remove(name);
    toast('ok', t('providers.deleted_key', { name }));
    keys.reload();
    app.reloadStatus();
  });
  const confirmRemove = (name: string) => {
    if (window.confirm(t('providers.confirm_delete_key', { name }))) void remove.run(name);
  };
  return (
    <section className="card" aria-labelledby="keys-title">
      <div className="card-head">
        <h2 id="keys-title">{t('providers.keys')}</h2>
        <span className="muted small">{t('providers.names_only_secrets_never_leave')}</span>
      </div>
      <ErrorNote error={keys.error ?? remove.error} title={t('providers.keys')} onRetry={keys.reload} />
      {keys.data && keys.data.length === 0 && <p className="muted">{t('providers.no_keys_yet_adding_a')}</p>}
      {keys.data && keys.data.length > 0 && (
        <table className="table" data-testid="keys-table">
          <thead>
            <tr>
              <th>{t('providers.name')}</th>
              <th>{t('providers.reference')}</th>
              <th>{t('providers.state')}</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {keys.data.map((k) => (
              <tr key={k.name}>
                <td>{k.name}</td>
                <td>
                  <code>{k.ref}</code>
                </td>
                <td>{k.present ? <Badge tone="ok">{t('providers.in_keychain')}</Badge> : <Badge tone="err">{t('providers.missing')}</Badge>}</td>
                <td className="right">
                  {app.canWrite && k.present && (
                    <button className="btn btn-small btn-danger-ghost" onClick={() => confirmRemove(k.name)}>{t('providers.delete')}</button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
