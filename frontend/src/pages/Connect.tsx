// Connect tools: one card per coding agent (Claude Code, Codex CLI, opencode,
// Continue, Gemini CLI, Cursor) with its state; Connect previews exactly
// what will be written (a diff per file) before writing it, Disconnect puts
// the files back and says how. Cursor is guided (values to paste and a live
// "we saw a request" check); launchers start a tool without editing files.
import { useState, type ReactNode } from 'react';
import { clients as clientsApi, config } from '../api';
import type { ClientInfo, ClientOutcome, ModelMap } from '../api/types';
import { useApp } from '../context';
import { Badge, ConfirmDialog, CopyButton, DiffView, Dot, ErrorNote, Field, Spinner, useToast } from '../components/ui';
import {
  CLAUDE_SLOTS,
  LAUNCHERS,
  changeKind,
  cursorSeen,
  cursorValues,
  lastSeenText,
  modelChoices,
  modelMap,
  outcomeText,
  primaryAction,
  stateBadges,
  subscriptionCapable,
  unifiedDiff,
  v1Url,
} from '../lib/connect';
import { useAction, useAsync } from '../lib/hooks';
import { t, tn } from '../i18n';

/** The key tools send when the gateway has no client keys (clients::LOCAL_TOKEN; any string works). */
const LOCAL_KEY = 'aigw-local';

/** How often the page reads the tools' state (and Cursor's last request). */
const POLL_MS = 3000;

interface Shown {
  tone: 'ok' | 'warn';
  lead: string;
  text: string;
  warnings: string[];
}

export function Connect() {
  const app = useApp();
  const toast = useToast();
  const list = useAsync(() => clientsApi.list(), [], POLL_MS);
  const routes = useAsync(() => config.routes(), []);
  const [openedAt] = useState(() => Date.now());
  const [outcomes, setOutcomes] = useState<Record<string, Shown>>({});
  const [connecting, setConnecting] = useState<ClientInfo | null>(null);
  const [claudeModels, setClaudeModels] = useState<Record<string, string>>({});
  const choices = modelChoices(routes.data?.routes);

  const show = (o: ClientOutcome, connecting: boolean) => {
    const ot = outcomeText(o, connecting);
    setOutcomes((m) => ({ ...m, [o.name]: { tone: ot.done ? 'ok' : 'warn', lead: ot.lead, text: ot.text, warnings: o.warnings } }));
    toast(ot.done ? 'ok' : 'info', [ot.lead, ot.text].filter(Boolean).join(' '));
    list.reload();
  };
  const disconnect = useAction(async (c: ClientInfo) => show(await clientsApi.disconnect(c.name), false), (e) => toast('err', e.message));
  const modelsFor = (c: ClientInfo): ModelMap | undefined => (c.name === 'claude-code' ? modelMap(claudeModels) : undefined);

  const gateway = list.data?.gateway ?? app.status?.endpoint ?? '';
  const tools = list.data?.clients ?? [];
  const cursor = tools.find((c) => c.name === 'cursor');

  return (
    <div className="page">
      <header className="page-head">
        <div>
          <h1 tabIndex={-1}>{t('connect.connect_tools')}</h1>
          <p className="muted">
            {tn('connect.intro', { url: gateway ? <> (<code>{v1Url(gateway)}</code>)</> : '' })}
          </p>
        </div>
      </header>
      {!app.canWrite && (
        <p className="warn-text small" data-testid="connect-readonly">{t('connect.read_only_connecting_and_disconnecting')}</p>
      )}
      <ErrorNote error={list.error} title={t('connect.could_not_read_the_tools')} onRetry={list.reload} />
      {list.loading && !list.data && <Spinner label={t('connect.looking_for_tools')} />}

      <div className="tool-grid" data-testid="tool-list">
        {tools
          .filter((c) => c.name !== 'cursor')
          .map((c) => (
            <ToolCard
              key={c.name}
              tool={c}
              canWrite={app.canWrite}
              shown={outcomes[c.name]}
              busy={disconnect.busy}
              onConnect={() => setConnecting(c)}
              onDisconnect={() => disconnect.run(c)}
            >
              {c.name === 'claude-code' && c.connectable && (
                <ClaudeModels choices={choices} value={claudeModels} onChange={setClaudeModels} disabled={!app.canWrite} />
              )}
            </ToolCard>
          ))}
      </div>
      <ErrorNote error={disconnect.error} title={t('connect.not_disconnected')} />

      {cursor && <CursorPanel tool={cursor} gateway={gateway} choices={choices} since={openedAt} />}

      <section className="card" aria-labelledby="launch-title" data-testid="launchers">
        <div className="card-head">
          <h2 id="launch-title">{t('connect.launch_without_editing_files')}</h2>
          <span className="muted small">{t('connect.starts_the_tool_pointed_at')}</span>
        </div>
        {LAUNCHERS.map((l) => (
          <div className="cmd" key={l.command}>
            <span className="launch-tool">{l.tool}</span>
            <code>{l.command}</code>
            <CopyButton text={l.command} />
          </div>
        ))}
        <p className="muted small">{t('connect.arguments_after_the_tool_s')}{' '}<code>aigw run claude -p "hello"</code>.</p>
      </section>

      {connecting && (
        <ConnectDialog
          tool={connecting}
          models={modelsFor(connecting)}
          onClose={() => setConnecting(null)}
          onDone={(o) => {
            setConnecting(null);
            show(o, true);
          }}
        />
      )}
    </div>
  );
}

function ToolCard({
  tool: c,
  canWrite,
  shown,
  busy,
  onConnect,
  onDisconnect,
  children,
}: {
  tool: ClientInfo;
  canWrite: boolean;
  shown: Shown | undefined;
  busy: boolean;
  onConnect: () => void;
  onDisconnect: () => void;
  children?: ReactNode;
}) {
  const action = primaryAction(c);
  return (
    <section className="card tool-card" aria-labelledby={`tool-${c.name}`} data-testid={`tool-${c.name}`}>
      <div className="card-head">
        <h2 id={`tool-${c.name}`}>
          <Dot tone={c.connected ? (c.drifted ? 'warn' : 'ok') : 'neutral'} /> {c.label}
        </h2>
        <div className="badges" data-testid={`badges-${c.name}`}>
          {stateBadges(c).map((b) => (
            <Badge key={b.text} tone={b.tone} title={b.title}>
              {b.text}
            </Badge>
          ))}
        </div>
      </div>
      {c.files.length > 0 && (
        <ul className="tool-files">
          {c.files.map((f) => (
            <li key={f}>
              <code>{f}</code>
            </li>
          ))}
        </ul>
      )}
      <p className="small muted" data-testid={`seen-${c.name}`}>
        {lastSeenText(c.last_seen)}
      </p>
      {c.note && <p className="small">{c.note}</p>}
      {children}
      {shown && (
        <div className={`tool-outcome tone-${shown.tone}`} role="status" data-testid={`outcome-${c.name}`}>
          {shown.lead && <strong>{shown.lead} </strong>}
          {shown.text}
          {shown.warnings.length > 0 && (
            <ul className="issues">
              {shown.warnings.map((w) => (
                <li key={w} className="issue-warn">
                  <strong>{t('connect.warning')}</strong> {w}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
      {canWrite && action && (
        <div className="row-end">
          {action === 'reconnect' && (
            <button className="btn" onClick={onDisconnect} disabled={busy} data-testid={`disconnect-${c.name}`}>{t('connect.disconnect')}</button>
          )}
          {action === 'disconnect' ? (
            <button className="btn" onClick={onDisconnect} disabled={busy} data-testid={`disconnect-${c.name}`}>{t('connect.disconnect')}</button>
          ) : (
            <button className="btn btn-primary" onClick={onConnect} data-testid={`connect-${c.name}`}>
              {action === 'reconnect' ? t('connect.repair') : t('connect.connect_2')}
            </button>
          )}
        </div>
      )}
    </section>
  );
}

function ClaudeModels({
  choices,
  value,
  onChange,
  disabled,
}: {
  choices: string[];
  value: Record<string, string>;
  onChange: (v: Record<string, string>) => void;
  disabled: boolean;
}) {
  return (
    <details className="tool-models">
      <summary>{t('connect.models_optional')}</summary>
      <p className="muted small">{t('connect.which_of_the_gateway_s')}</p>
      <div className="form-grid">
        {CLAUDE_SLOTS.map((s) => (
          <Field key={s.id} label={s.label} hint={<code>{s.hint}</code>} htmlFor={`claude-model-${s.id}`}>
            <select
              id={`claude-model-${s.id}`}
              value={value[s.id] ?? ''}
              disabled={disabled}
              onChange={(e) => onChange({ ...value, [s.id]: e.target.value })}
              data-testid={`claude-model-${s.id}`}
            >
              <option value="">{t('connect.claude_code_s_own')}</option>
              {choices.map((m) => (
                <option key={m} value={m}>
                  {m}
                </option>
              ))}
            </select>
          </Field>
        ))}
      </div>
    </details>
  );
}

function ConnectDialog({
  tool,
  models,
  onClose,
  onDone,
}: {
  tool: ClientInfo;
  models: ModelMap | undefined;
  onClose: () => void;
  onDone: (o: ClientOutcome) => void;
}) {
  const [force, setForce] = useState(false);
  const [subscription, setSubscription] = useState(false);
  const hasLogin = subscriptionCapable(tool.name);
  const preview = useAsync(
    () => clientsApi.preview(tool.name, { models, subscription }),
    [tool.name, JSON.stringify(models ?? {}), subscription],
  );
  const connect = useAction(async () => onDone(await clientsApi.connect(tool.name, { models, force, subscription })));
  const p = preview.data;
  return (
    <ConfirmDialog
      open
      wide
      title={`Connect ${tool.label}`}
      onClose={onClose}
      confirmLabel={t('connect.connect')}
      onConfirm={() => connect.run()}
      confirmTestId="connect-confirm"
      busy={connect.busy}
      busyLabel={t('connect.connecting')}
      disabled={!p || preview.loading || (!tool.installed && !force)}
    >
      <div data-testid="connect-preview">
        <ErrorNote error={preview.error} title={t('connect.could_not_prepare_the_change')} onRetry={preview.reload} />
        {preview.loading && !p && (
          <p className="muted">
            <Spinner />{' '}{t('connect.reading_the_current_files')}</p>
        )}
        {p && (
          <>
            <p>
              {t('connect.connecting_writes', { what: p.files.length === 1 ? t('connect.this_file') : t('connect.these_n_files', { n: p.files.length }) })}{' '}
              <strong>{t('connect.disconnect')}</strong>{' '}{t('connect.restores_them')}</p>
            {p.warnings.length > 0 && (
              <ul className="issues" data-testid="connect-warnings">
                {p.warnings.map((w) => (
                  <li key={w} className="issue-warn">
                    <strong>{t('connect.warning')}</strong> {w}
                  </li>
                ))}
              </ul>
            )}
            {p.files.map((f) => {
              const kind = changeKind(f);
              return (
                <details open className="diff-wrap" key={f.path} data-testid="connect-file">
                  <summary>
                    <code>{f.path}</code> <Badge tone={kind === 'created' ? 'info' : kind === 'deleted' ? 'warn' : 'neutral'}>{kind}</Badge>
                    {f.mode && <span className="muted small"> mode {f.mode}</span>}
                  </summary>
                  <DiffView diff={unifiedDiff(f.path, f.before, f.after)} emptyText={t('connect.this_file_is_already_as')} />
                </details>
              );
            })}
          </>
        )}
        {hasLogin && (
          <label className="checks" data-testid="connect-subscription">
            <input type="checkbox" checked={subscription} onChange={(e) => setSubscription(e.target.checked)} />{' '}
            {tn('connect.keep_login', { product: tool.name === 'codex' ? 'ChatGPT' : 'Claude', client: <code>api_key = "client"</code>, header: <code>x-aigw-key</code> })}
          </label>
        )}
        {p && !tool.installed && (
          <label className="checks" data-testid="connect-force">
            <input type="checkbox" checked={force} onChange={(e) => setForce(e.target.checked)} /> {t('connect.not_found_force', { tool: tool.label })}
          </label>
        )}
        <ErrorNote error={connect.error} title={t('connect.not_connected')} />
      </div>
    </ConfirmDialog>
  );
}

function CursorPanel({ tool, gateway, choices, since }: { tool: ClientInfo; gateway: string; choices: string[]; since: number }) {
  const [model, setModel] = useState('');
  const m = model || choices.find((c) => !c.startsWith('claude')) || choices[0] || 'gpt-4o-mini';
  const seen = cursorSeen(tool.last_seen, since);
  return (
    <section className="card tool-card" aria-labelledby="tool-cursor" data-testid="tool-cursor">
      <div className="card-head">
        <h2 id="tool-cursor">
          <Dot tone={seen.fresh ? 'ok' : 'neutral'} /> {tool.label}
        </h2>
        <div className="badges">
          {stateBadges(tool).map((b) => (
            <Badge key={b.text} tone={b.tone} title={b.title}>
              {b.text}
            </Badge>
          ))}
        </div>
      </div>
      {/* The gateway's note says where the values go and what Cursor needs (it calls from its own servers). */}
      <p className="small">
        {tool.note ?? t('connect.cursor_note')}
      </p>
      <dl className="paste-values" data-testid="cursor-values">
        {cursorValues(gateway, LOCAL_KEY, m).map((v) => (
          <div key={v.label}>
            <dt>
              {v.label} <span className="muted small">({v.where})</span>
            </dt>
            <dd>
              <code>{v.value}</code> <CopyButton text={v.value} />
            </dd>
          </div>
        ))}
      </dl>
      <p className="muted small">{t('connect.any_key_works_while_the')}<code>aigw keys client create</code>{t('connect.and_paste_that')}</p>
      {choices.length > 1 && (
        <Field label={t('connect.model_to_paste')} htmlFor="cursor-model">
          <select id="cursor-model" value={m} onChange={(e) => setModel(e.target.value)}>
            {choices.map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </Field>
      )}
      <p className={`cursor-check ${seen.fresh ? 'tone-ok' : ''}`} role="status" data-testid="cursor-check">
        {!seen.fresh && <Spinner label={t('connect.waiting_for_a_request_from')} />} {seen.text}
      </p>
    </section>
  );
}
