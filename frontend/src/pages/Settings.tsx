// Updates & settings: version and signed updates (check, install, roll back;
// components/Updates.tsx), the admin session, where things live, and the
// audit log.
import { status as statusApi } from '../api';
import type { TokenStorage } from '../api/types';
import { useApp } from '../context';
import { CopyButton, ErrorNote } from '../components/ui';
import { UpdatesSection } from '../components/Updates';
import { DiagnosticsSection } from '../components/Diagnostics';
import { fmtAgo, fmtDateTime } from '../lib/format';
import { useAsync } from '../lib/hooks';

function storageText(s: TokenStorage): string {
  if (s === 'keychain') return 'OS keychain (service ai-model-gateway-admin)';
  if (s === 'memory') return 'held by the host process (desktop app or tests)';
  return `file ${s.file} (no keychain was reachable)`;
}

const ACTION_WORDS: Record<string, string> = {
  publish: 'published a config',
  rollback: 'rolled back',
  publish_rejected: 'tried to publish an invalid config',
  file_rejected: 'hand edit of the config file rejected',
  key_set: 'set a key',
  key_delete: 'deleted a key',
  login: 'signed in',
  login_failed: 'failed sign-in',
  update_apply: 'installed an update',
  update_rollback: 'reverted an update',
  client_connect: 'connected a tool',
  client_disconnect: 'disconnected a tool',
  diagnostics: 'downloaded diagnostics',
  restore: 'restored a backup',
};

export function Settings() {
  const app = useApp();
  const st = app.status;
  const audit = useAsync(() => statusApi.audit(30), [], 30_000);

  return (
    <div className="page">
      <header className="page-head">
        <div>
          <h1 tabIndex={-1}>Updates &amp; settings</h1>
          <p className="muted">Version and signed updates, session, and where the gateway keeps its things.</p>
        </div>
      </header>

      <UpdatesSection onChanged={audit.reload} />

      <section className="card" aria-labelledby="sess-title">
        <div className="card-head">
          <h2 id="sess-title">Admin session</h2>
        </div>
        <dl className="facts">
          <div>
            <dt>Signed in as</dt>
            <dd data-testid="role">{app.role === 'admin' ? 'admin (read and write)' : 'viewer (read only)'}</dd>
          </div>
          <div>
            <dt>Connection</dt>
            <dd>{app.transport === 'tauri' ? 'desktop app (in-process token)' : 'browser session cookie (12 h)'}</dd>
          </div>
          <div>
            <dt>Admin tokens kept in</dt>
            <dd>{st ? storageText(st.admin_token_storage) : '—'}</dd>
          </div>
        </dl>
        {app.transport === 'browser' && (
          <button className="btn" onClick={app.logout} data-testid="logout">
            Sign out
          </button>
        )}
      </section>

      <section className="card" aria-labelledby="paths-title">
        <div className="card-head">
          <h2 id="paths-title">Paths</h2>
        </div>
        <dl className="facts">
          <div>
            <dt>Config file</dt>
            <dd className="mono small">
              {st?.config_path ?? 'none (config given by the host)'} {st?.config_path && <CopyButton text={st.config_path} />}
            </dd>
          </div>
          <div>
            <dt>Listening on</dt>
            <dd className="mono small">{st?.listen ?? '—'}</dd>
          </div>
          <div>
            <dt>Client endpoint</dt>
            <dd className="mono small">{st?.endpoint ?? '—'}</dd>
          </div>
        </dl>
        <p className="small muted">
          <code>aigw paths</code> prints the config file and the data dir (SQLite config history, request log). Hand edits of the
          config file are picked up within a second and recorded as versions.
        </p>
      </section>

      <DiagnosticsSection role={app.role} transport={app.transport} />

      <section className="card" aria-labelledby="audit-title">
        <div className="card-head">
          <h2 id="audit-title">Audit log</h2>
          <span className="muted small">Who did what, newest first</span>
        </div>
        <ErrorNote error={audit.error} title="Could not load the audit log" onRetry={audit.reload} />
        {audit.data && audit.data.entries.length === 0 && <p className="muted">Nothing yet.</p>}
        {audit.data && audit.data.entries.length > 0 && (
          <table className="table" data-testid="audit">
            <thead>
              <tr>
                <th>When</th>
                <th>Who</th>
                <th>What</th>
                <th>Version</th>
              </tr>
            </thead>
            <tbody>
              {audit.data.entries.map((e) => (
                <tr key={e.id}>
                  <td title={fmtDateTime(e.at_ms)}>{fmtAgo(e.at_ms)}</td>
                  <td>{e.actor}</td>
                  <td>{ACTION_WORDS[e.action] ?? e.action}{detailText(e.detail)}</td>
                  <td>{e.version_id ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  );
}

function detailText(d: unknown): string {
  if (!d || typeof d !== 'object') return '';
  const o = d as Record<string, unknown>;
  if (typeof o.name === 'string') return `: ${o.name}`;
  // update_apply {from, to} and update_rollback {replaced, restored}
  if (typeof o.from === 'string' && typeof o.to === 'string') return `: ${o.from} → ${o.to}`;
  if (typeof o.replaced === 'string' && typeof o.restored === 'string') return `: ${o.replaced} → ${o.restored}`;
  if (typeof o.message === 'string' && o.message) return `: ${o.message}`;
  return '';
}
