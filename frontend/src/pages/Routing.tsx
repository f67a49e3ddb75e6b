// Routing: edit routes (targets reordered by drag or buttons, strategy,
// weights, cooldown, retries) with instant local checks and a live server
// check + diff; publish with a message; history with each version's diff;
// rollback; routing profile switch.
import { useEffect, useMemo, useRef, useState } from 'react';
import { config, providers as providersApi } from '../api';
import { toApiError, type ApiError } from '../api/transport';
import type { Draft, RouteMatch, RoutesInfo, Version } from '../api/types';
import { useApp } from '../context';
import { summaryText, useDraft } from '../components/Review';
import { Badge, ConfirmButtons, ConfirmDialog, DiffView, EmptyState, ErrorNote, Field, Segmented, Spinner, ValidationList, useToast } from '../components/ui';
import { fmtAgo, fmtDateTime } from '../lib/format';
import { navigate, useAction, useAsync, useDebounced } from '../lib/hooks';
import { profileNames } from '../lib/profiles';
import {
  checkRoutes,
  move,
  moveTo,
  forwardedModel,
  isPattern,
  matchText,
  newRoute,
  patternHint,
  routeOps,
  STRATEGIES,
  stickyApplies,
  toEditable,
  weightShares,
  type EditableRoute,
  type RouteIssue,
} from '../lib/routes';
import { t } from '../i18n';

export function Routing() {
  const app = useApp();
  const routes = useAsync(() => config.routes(), []);
  const provs = useAsync(() => providersApi.list(), []);
  const history = useAsync(() => config.history(30), []);

  const reloadAll = () => {
    routes.reload();
    history.reload();
    app.reloadStatus();
  };

  return (
    <div className="page">
      <header className="page-head">
        <div>
          <h1 tabIndex={-1}>{t('routing.routing')}</h1>
          <p className="muted">{t('routing.which_provider_serves_each_model')}</p>
        </div>
        {routes.data && <ProfileSwitch info={routes.data} onSwitched={reloadAll} />}
      </header>
      <ErrorNote error={routes.error} title={t('routing.could_not_load_routes')} onRetry={routes.reload} />
      {routes.loading && !routes.data && <Spinner />}
      {routes.data && provs.data && (
        <Editor key={JSON.stringify(routes.data.routes)} info={routes.data} providers={provs.data.map((p) => p.name)} onPublished={reloadAll} />
      )}
      <RoutePreview />
      <HistorySection history={history} onRolledBack={reloadAll} />
    </div>
  );
}

function ProfileSwitch({ info, onSwitched }: { info: RoutesInfo; onSwitched: () => void }) {
  const app = useApp();
  const toast = useToast();
  const names = profileNames(info.profiles);
  const pick = useAction(async (v: string) => {
    const p = await config.switchProfile(v === '' ? null : v);
    toast('ok', `Routing profile: ${v || t('routing.default_routes')} (config version ${p.version.id}).`);
    onSwitched();
  });
  if (names.length === 0) return null;
  return (
    <div className="profile-switch">
      <label htmlFor="profile">{t('routing.profile')}</label>
      <select id="profile" value={info.active_profile ?? ''} onChange={(e) => pick.run(e.target.value)} disabled={pick.busy || !app.canWrite} data-testid="profile-select">
        <option value="">{t('routing.default_routes')}</option>
        {names.map((n) => (
          <option key={n} value={n}>
            {n}
          </option>
        ))}
      </select>
      {pick.busy && <Spinner />}
      {pick.error && <ErrorNote error={pick.error} title={t('routing.profile_not_switched')} />}
    </div>
  );
}

function Editor({ info, providers, onPublished }: { info: RoutesInfo; providers: string[]; onPublished: () => void }) {
  const app = useApp();
  const toast = useToast();
  const before = useMemo(() => info.routes.map(toEditable), [info.routes]);
  const [routes, setRoutes] = useState<EditableRoute[]>(before);
  const [message, setMessage] = useState('');

  const issues = checkRoutes(routes, providers);
  const ops = useMemo(() => routeOps(before, routes, info.active_profile), [before, routes, info.active_profile]);
  const dirty = ops.length > 0;
  const settled = useDebounced(ops, 350);
  // Ask the server only once local checks pass (it would say the same, slower).
  const { draft, error: draftErr, loading } = useDraft(dirty && issues.length === 0 ? settled : null);
  const fresh = draft && JSON.stringify(settled) === JSON.stringify(ops);

  const update = (i: number, r: EditableRoute) => setRoutes((rs) => rs.map((x, k) => (k === i ? r : x)));

  const publish = useAction(async (d: Draft) => {
    const p = await config.publish(d.toml, message.trim() || defaultMessage(ops.length, d.preview.summary), d.preview.live_version);
    toast('ok', p.unchanged ? t('routing.nothing_changed') : `Published config version ${p.version.id}.`);
    setMessage('');
    onPublished();
  });

  if (providers.length === 0) {
    return (
      <div className="card">
        <EmptyState
          icon="⇄"
          title={t('routing.add_a_provider_first')}
          actions={
            <button className="btn btn-primary" onClick={() => navigate('providers', { add: '1' })}>{t('routing.add_a_provider')}</button>
          }
        >{t('routing.routes_send_a_model_name')}</EmptyState>
      </div>
    );
  }

  return (
    <div className="routing">
      <div className="routes-col">
        {info.active_profile && (
          <div className="banner banner-info">{t('routing.profile')}{' '}<strong>{info.active_profile}</strong>{' '}{t('routing.is_active_these_are_its')}</div>
        )}
        {routes.length === 0 && (
          <div className="card">
            <EmptyState icon="↦" title={t('routing.no_routes_yet')}>{t('routing.without_routes_a_model_name')}{' '}<code>provider/model</code>{t('routing.add_a_route_to_get')}</EmptyState>
          </div>
        )}
        {routes.map((r, i) => (
          <RouteCard
            key={i}
            route={r}
            hint={patternHint(i, routes)}
            index={i}
            providers={providers}
            issues={issues.filter((x) => x.route === i)}
            readOnly={!app.canWrite}
            onChange={(nr) => update(i, nr)}
            onRemove={() => setRoutes((rs) => rs.filter((_, k) => k !== i))}
          />
        ))}
        {app.canWrite && (
          <button
            className="btn btn-dashed"
            onClick={() => setRoutes((rs) => [...rs, newRoute(uniqueModel(rs), providers[0] ?? '')])}
            data-testid="add-route"
          >{t('routing.add_route')}</button>
        )}
      </div>

      <aside className="publish-col" aria-label={t('routing.review_and_publish')}>
        <div className="card sticky" data-testid="publish-panel">
          <h2>{t('routing.changes')}</h2>
          {!dirty && <p className="muted">{t('routing.no_unpublished_changes_edit_a')}</p>}
          {dirty && (
            <>
              <p className="small">
                {t(ops.length > 1 ? 'routing.n_route_changes' : 'routing.one_route_change', { n: ops.length })}{' '}
                {ops.map((o) => (o.op === 'remove_route' ? t('routing.op_remove', { model: o.model }) : t('routing.op_save', { model: o.op === 'upsert_route' ? o.route.model : '' }))).join(', ')}
              </p>
              {issues.length > 0 && (
                <ul className="issues" data-testid="local-issues">
                  {issues.map((x, k) => (
                    <li key={k} className="issue-err">
                      <strong>{routes[x.route]?.model || `route ${x.route + 1}`}</strong>
                      {x.target !== undefined ? ` · target ${x.target + 1}` : ''}: {x.message}
                    </li>
                  ))}
                </ul>
              )}
              {issues.length === 0 && (
                <>
                  <ErrorNote error={draftErr} title={t('routing.could_not_check_the_change')} />
                  {(loading || !fresh) && !draftErr && (
                    <p className="muted small">
                      <Spinner />{' '}{t('routing.checking')}</p>
                  )}
                  {draft && fresh && (
                    <>
                      <ValidationList validation={draft.preview.validation} />
                      {summaryText(draft.preview.summary) && <p className="summary small">{summaryText(draft.preview.summary)}</p>}
                      <details open className="diff-wrap">
                        <summary>{t('routing.diff_against', { version: draft.preview.live_version })}</summary>
                        <DiffView diff={draft.preview.unified} />
                      </details>
                    </>
                  )}
                </>
              )}
              <Field label={t('routing.message')} htmlFor="route-msg">
                <input id="route-msg" value={message} onChange={(e) => setMessage(e.target.value)} placeholder={t('routing.what_and_why_for_the')} data-testid="route-message" />
              </Field>
              <ErrorNote error={publish.error} title={t('routing.not_published')} />
              <div className="row-end">
                <ConfirmButtons
                  confirmLabel={t('routing.publish')}
                  onConfirm={() => draft && publish.run(draft)}
                  confirmTestId="route-publish"
                  busy={publish.busy}
                  disabled={issues.length > 0 || !fresh || !draft?.preview.validation.valid}
                  onCancel={() => setRoutes(before)}
                  cancelLabel={t('routing.discard')}
                />
              </div>
            </>
          )}
        </div>
      </aside>
    </div>
  );
}

function uniqueModel(rs: EditableRoute[]): string {
  for (let i = 1; ; i++) {
    const m = i === 1 ? 'new-model' : `new-model-${i}`;
    if (!rs.some((r) => r.model === m)) return m;
  }
}

function defaultMessage(n: number, s: Parameters<typeof summaryText>[0]): string {
  const st = summaryText(s);
  return st ? `Routing: ${st}` : `Routing: ${n} change${n > 1 ? 's' : ''}`;
}

function RouteCard({
  route,
  hint,
  index,
  providers,
  issues,
  readOnly,
  onChange,
  onRemove,
}: {
  route: EditableRoute;
  /** For a pattern route: which names it takes. */
  hint: string | null;
  index: number;
  providers: string[];
  issues: RouteIssue[];
  readOnly: boolean;
  onChange: (r: EditableRoute) => void;
  onRemove: () => void;
}) {
  const drag = useRef<number | null>(null);
  const [over, setOver] = useState<number | null>(null);
  const shares = weightShares(route);
  const fieldErr = (f: string) => issues.find((x) => x.target === undefined && x.field === f)?.message;
  const setT = (ti: number, patch: Partial<EditableRoute['targets'][number]>) =>
    onChange({ ...route, targets: route.targets.map((t, k) => (k === ti ? { ...t, ...patch } : t)) });
  const id = `r${index}`;

  return (
    <article className="card route" data-testid={`route-${route.model}`} aria-label={`Route ${route.model}`}>
      <div className="route-head">
        <Field label={t('routing.model_name_clients_send')} htmlFor={`${id}-model`} error={fieldErr('model')}>
          <input
            id={`${id}-model`}
            value={route.model}
            onChange={(e) => onChange({ ...route, model: e.target.value })}
            disabled={readOnly}
            spellCheck={false}
            className="mono"
            placeholder={t('routing.gpt_4o_mini_or_a')}
            data-testid="route-model"
          />
          <div className="field-hint" data-testid="route-hint">
            {hint ? (
              <>
                <Badge tone="info">{t('routing.pattern')}</Badge> {hint}
              </>
            ) : (
              t('routing.an_exact_name_or_a')
            )}
          </div>
        </Field>
        <div className="route-strategy">
          <span className="label">{t('routing.strategy')}</span>
          <Segmented label={t('routing.strategy')} value={route.strategy} options={STRATEGIES} onChange={(s) => !readOnly && onChange({ ...route, strategy: s })} />
          <div className="field-hint">{STRATEGIES.find((s) => s.id === route.strategy)?.help}</div>
        </div>
        {!readOnly && (
          <button className="btn-icon danger" onClick={onRemove} aria-label={`Remove route ${route.model}`} title={t('routing.remove_route')}>
            ×
          </button>
        )}
      </div>

      <ol className="targets-edit" aria-label={t('routing.targets_in_order')}>
        {route.targets.map((tg, ti) => {
          const terr = issues.filter((x) => x.target === ti);
          return (
            <li
              key={ti}
              className={`target-row ${over === ti ? 'drag-over' : ''} ${terr.length ? 'has-error' : ''}`}
              draggable={!readOnly}
              onDragStart={(e) => {
                drag.current = ti;
                e.dataTransfer.effectAllowed = 'move';
                e.dataTransfer.setData('text/plain', String(ti));
              }}
              onDragOver={(e) => {
                if (drag.current === null) return;
                e.preventDefault();
                setOver(ti);
              }}
              onDragLeave={() => setOver((o) => (o === ti ? null : o))}
              onDrop={(e) => {
                e.preventDefault();
                if (drag.current !== null) onChange({ ...route, targets: moveTo(route.targets, drag.current, ti) });
                drag.current = null;
                setOver(null);
              }}
              onDragEnd={() => {
                drag.current = null;
                setOver(null);
              }}
              data-testid="target-row"
            >
              <span className="handle" aria-hidden="true" title={t('routing.drag_to_reorder')}>
                ⋮⋮
              </span>
              <span className="pos">{ti === 0 ? (route.strategy === 'priority' ? t('routing.pos_first') : '1') : ti + 1}</span>
              <select aria-label={`Target ${ti + 1} provider`} value={tg.provider} onChange={(e) => setT(ti, { provider: e.target.value })} disabled={readOnly} data-testid="target-provider">
                {!providers.includes(tg.provider) && <option value={tg.provider}>{tg.provider || t('routing.pick_a_provider')}</option>}
                {providers.map((p) => (
                  <option key={p} value={p}>
                    {p}
                  </option>
                ))}
              </select>
              <input
                aria-label={`Target ${ti + 1} model`}
                className="mono"
                value={tg.model}
                placeholder={isPattern(route.model) ? t('routing.as_requested_or_e_g') : t('routing.model_as_requested', { model: route.model || t('routing.model_word') })}
                title={tg.model.includes('{model}') ? `claude-opus-4-8 → ${forwardedModel(tg.model, 'claude-opus-4-8')}` : undefined}
                onChange={(e) => setT(ti, { model: e.target.value })}
                disabled={readOnly}
                spellCheck={false}
                data-testid="target-model"
              />
              {route.strategy === 'weighted' && (
                <span className="weight">
                  <input
                    aria-label={`Target ${ti + 1} weight`}
                    type="number"
                    min={0}
                    step={1}
                    value={tg.weight}
                    onChange={(e) => setT(ti, { weight: Math.round(Number(e.target.value)) })}
                    disabled={readOnly}
                  />
                  <span className="muted small">{shares[ti] !== null ? `${Math.round((shares[ti] ?? 0) * 100)} %` : ''}</span>
                </span>
              )}
              {!readOnly && (
                <span className="row-actions">
                  <button className="btn-icon" onClick={() => onChange({ ...route, targets: move(route.targets, ti, -1) })} disabled={ti === 0} aria-label={`Move target ${ti + 1} up`} title={t('routing.move_up')} data-testid="target-up">
                    ↑
                  </button>
                  <button className="btn-icon" onClick={() => onChange({ ...route, targets: move(route.targets, ti, 1) })} disabled={ti === route.targets.length - 1} aria-label={`Move target ${ti + 1} down`} title={t('routing.move_down')} data-testid="target-down">
                    ↓
                  </button>
                  <button className="btn-icon danger" onClick={() => onChange({ ...route, targets: route.targets.filter((_, k) => k !== ti) })} aria-label={`Remove target ${ti + 1}`} title={t('routing.remove_target')}>
                    ×
                  </button>
                </span>
              )}
              {terr.length > 0 && <div className="target-err">{terr.map((x) => x.message).join(' ')}</div>}
            </li>
          );
        })}
      </ol>
      {fieldErr('targets') && <div className="field-msg">{fieldErr('targets')}</div>}
      <div className="route-foot">
        {!readOnly && (
          <button className="btn btn-small" onClick={() => onChange({ ...route, targets: [...route.targets, { provider: providers.find((p) => !route.targets.some((t) => t.provider === p)) ?? providers[0] ?? '', model: '', weight: 1 }] })} data-testid="add-target">{t('routing.target')}</button>
        )}
        <label className="inline-field">{t('routing.cooldown')}<input type="number" min={0} value={route.cooldown_s} onChange={(e) => onChange({ ...route, cooldown_s: Number(e.target.value) })} disabled={readOnly} aria-invalid={!!fieldErr('cooldown_s')} data-testid="route-cooldown" />s
        </label>
        <label className="inline-field">{t('routing.retries')}<input type="number" min={0} max={10} value={route.retries} onChange={(e) => onChange({ ...route, retries: Number(e.target.value) })} disabled={readOnly} aria-invalid={!!fieldErr('retries')} />
        </label>
        {(fieldErr('cooldown_s') || fieldErr('retries')) && <span className="field-msg">{fieldErr('cooldown_s') ?? fieldErr('retries')}</span>}
        {stickyApplies(route.strategy) && (
          <label className="inline-field" data-testid="route-sticky">
            <input type="checkbox" checked={route.sticky} onChange={(e) => onChange({ ...route, sticky: e.target.checked })} disabled={readOnly} />{' '}{t('routing.keep_each_session_on_one')}</label>
        )}
      </div>
    </article>
  );
}

/** Asks the gateway where a model name goes with the live config. */
function RoutePreview() {
  const [model, setModel] = useState('claude-opus-4-8');
  const [result, setResult] = useState<RouteMatch | null>(null);
  const ask = useAction(async () => {
    const info = await config.routeFor(model.trim());
    setResult(info.matched ?? null);
  });
  return (
    <section className="card" aria-labelledby="route-preview-title">
      <div className="card-head">
        <h2 id="route-preview-title">{t('routing.where_does_a_model_name')}</h2>
        <span className="muted small">{t('routing.with_the_live_published_routes')}</span>
      </div>
      <form
        className="route-preview"
        onSubmit={(e) => {
          e.preventDefault();
          if (model.trim()) ask.run();
        }}
      >
        <input aria-label={t('routing.model_name')} className="mono" value={model} onChange={(e) => setModel(e.target.value)} spellCheck={false} data-testid="preview-model" />
        <button className="btn" type="submit" disabled={ask.busy || !model.trim()} data-testid="preview-go">{t('routing.check')}</button>
      </form>
      <ErrorNote error={ask.error} title={t('routing.could_not_check')} />
      {result && (
        <p className="small" data-testid="preview-result">
          {matchText(result)}
        </p>
      )}
    </section>
  );
}

function HistorySection({ history, onRolledBack }: { history: ReturnType<typeof useAsync<Awaited<ReturnType<typeof config.history>>>>; onRolledBack: () => void }) {
  const app = useApp();
  const [open, setOpen] = useState<number | null>(null);
  const [rollback, setRollback] = useState<Version | null>(null);
  const live = history.data?.live_version;

  return (
    <section className="card" aria-labelledby="history-title">
      <div className="card-head">
        <h2 id="history-title">{t('routing.history')}</h2>
        <span className="muted small">{t('routing.every_published_version_newest_first')}</span>
      </div>
      <ErrorNote error={history.error} title={t('routing.could_not_load_the_history')} onRetry={history.reload} />
      {history.data && (
        <ol className="history" data-testid="history">
          {history.data.versions.map((v) => (
            <li key={v.id} className={v.id === live ? 'live' : ''} data-testid={`version-${v.id}`}>
              <button className="history-row" onClick={() => setOpen(open === v.id ? null : v.id)} aria-expanded={open === v.id}>
                <span className="ver">v{v.id}</span>
                <span className="grow">
                  <span className="history-msg">{v.message || <em className="muted">{t('routing.no_message')}</em>}</span>
                  <span className="small muted">
                    {' '}
                    · {v.source} · {v.actor} · <time title={fmtDateTime(v.created_at_ms)}>{fmtAgo(v.created_at_ms)}</time>
                  </span>
                  {summaryText(v.summary) && <span className="small history-sum">{summaryText(v.summary)}</span>}
                </span>
                {v.id === live && <Badge tone="ok">{t('routing.live')}</Badge>}
              </button>
              {open === v.id && (
                <div className="history-detail">
                  <DiffView diff={v.diff} emptyText={t('routing.no_diff_first_version')} />
                  {app.canWrite && v.id !== live && (
                    <button className="btn" onClick={() => setRollback(v)} data-testid={`rollback-${v.id}`}>
                      {t('routing.roll_back_to_v', { version: v.id })}
                    </button>
                  )}
                </div>
              )}
            </li>
          ))}
        </ol>
      )}
      {rollback && <RollbackDialog version={rollback} onClose={() => setRollback(null)} onDone={() => { setRollback(null); onRolledBack(); }} />}
    </section>
  );
}

function RollbackDialog({ version, onClose, onDone }: { version: Version; onClose: () => void; onDone: () => void }) {
  const toast = useToast();
  const [message, setMessage] = useState(t('routing.roll_back_msg', { version: version.id }));
  const [preview, setPreview] = useState<{ diff?: string; error?: ApiError }>({});

  useEffect(() => {
    let live = true;
    config
      .version(version.id)
      .then((v) => (v.toml !== undefined ? config.diff(v.toml) : Promise.reject(new Error('version has no TOML'))))
      .then(
        (p) => live && setPreview({ diff: p.unified }),
        (e) => live && setPreview({ error: toApiError(e) }),
      );
    return () => {
      live = false;
    };
  }, [version.id]);

  const go = useAction(async () => {
    const p = await config.rollback(version.id, message);
    toast('ok', `Rolled back: config version ${p.version.id} has the content of v${version.id}.`);
    onDone();
  });
  return (
    <ConfirmDialog
      open
      wide
      title={t('routing.roll_back_title', { version: version.id })}
      onClose={onClose}
      confirmLabel={t('routing.roll_back')}
      onConfirm={go.run}
      confirmTestId="rollback-confirm"
      busy={go.busy}
    >
      <p>
        {t('routing.rollback_explain', { version: version.id, message: version.message || t('routing.no_message') })}
      </p>
      <h3 className="small-title">{t('routing.what_changes_against_the_live')}</h3>
      <ErrorNote error={preview.error} title={t('routing.no_preview')} />
      {preview.diff === undefined && !preview.error ? <Spinner /> : preview.diff !== undefined && <DiffView diff={preview.diff} />}
      <Field label={t('routing.message')} htmlFor="rb-msg">
        <input id="rb-msg" value={message} onChange={(e) => setMessage(e.target.value)} data-testid="rollback-message" />
      </Field>
      <ErrorNote error={go.error} title={t('routing.not_rolled_back')} />
    </ConfirmDialog>
  );
}
