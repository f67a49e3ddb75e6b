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
import { t } from '../i18n';

function storageText(s: TokenStorage): string {
  if (s === 'keychain') return t('settings.os_keychain_service_ai_model');
  if (s === 'memory') return t('settings.held_by_the_host_process');
  return t('settings.file_no_keychain', { file: s.file });
}

const actionWords = (): Record<string, string> => ({
  publish: t('settings.published_a_config'),
  rollback: t('settings.rolled_back'),
  publish_rejected: t('settings.tried_to_publish_an_invalid'),
  file_rejected: t('settings.hand_edit_of_the_config'),
  key_set: t('settings.set_a_key'),
  key_delete: t('settings.deleted_a_key'),
  login: t('settings.signed_in'),
  login_failed: t('settings.failed_sign_in'),
  logout: 'signed out',
  diagnostics: 'downloaded diagnostics',
  restore: 'restored a backup',
  update_apply: t('settings.installed_an_update'),
  update_rollback: t('settings.reverted_an_update'),
  client_connect: t('settings.connected_a_tool'),
  client_disconnect: t('settings.disconnected_a_tool'),
});

export function Settings() {
  const app = useApp();
  const st = app.status;
  const audit = useAsync(() => statusApi.audit(30), [], 30_000);

  return (
    <div className="page">
      <header className="page-head">
        <div>
          <h1 tabIndex={-1}>{t('settings.updates_settings')}</h1>
          <p className="muted">{t('settings.version_and_signed_updates_session')}</p>
        </div>
      </header>

      <UpdatesSection onChanged={audit.reload} />

      <section className="card" aria-labelledby="sess-title">
        <div className="card-head">
          <h2 id="sess-title">{t('settings.admin_session')}</h2>
        </div>
        <dl className="facts">
          <div>
            <dt>{t('settings.signed_in_as')}</dt>
            <dd data-testid="role">{app.role === 'admin' ? t('settings.admin_read_and_write') : t('settings.viewer_read_only')}</dd>
          </div>
          <div>
            <dt>{t('settings.connection')}</dt>
            <dd>{app.transport === 'tauri' ? t('settings.desktop_app_in_process_token') : t('settings.browser_session_cookie_12_h')}</dd>
          </div>
          <div>
            <dt>{t('settings.admin_tokens_kept_in')}</dt>
            <dd>{st ? storageText(st.admin_token_storage) : '—'}</dd>
          </div>
        </dl>
        {app.transport === 'browser' && (
          <button className="btn" onClick={app.logout} data-testid="logout">{t('settings.sign_out')}</button>
        )}
      </section>

      <section className="card" aria-labelledby="paths-title">
        <div className="card-head">
          <h2 id="paths-title">{t('settings.paths')}</h2>
        </div>
        <dl className="facts">
          <div>
            <dt>{t('settings.config_file')}</dt>
            <dd className="mono small">
              {st?.config_path ?? t('settings.none_config_given_by_the')} {st?.config_path && <CopyButton text={st.config_path} />}
            </dd>
          </div>
          <div>
            <dt>{t('settings.listening_on')}</dt>
            <dd className="mono small">{st?.listen ?? '—'}</dd>
          </div>
          <div>
            <dt>{t('settings.client_endpoint')}</dt>
            <dd className="mono small">{st?.endpoint ?? '—'}</dd>
          </div>
        </dl>
        <p className="small muted">
          <code>aigw paths</code>{' '}{t('settings.prints_the_config_file_and')}</p>
      </section>

      <DiagnosticsSection role={app.role} transport={app.transport} />

      <section className="card" aria-labelledby="audit-title">
        <div className="card-head">
          <h2 id="audit-title">{t('settings.audit_log')}</h2>
          <span className="muted small">{t('settings.who_did_what_newest_first')}</span>
        </div>
        <ErrorNote error={audit.error} title={t('settings.could_not_load_the_audit')} onRetry={audit.reload} />
        {audit.data && audit.data.entries.length === 0 && <p className="muted">{t('settings.nothing_yet')}</p>}
        {audit.data && audit.data.entries.length > 0 && (
          <table className="table" data-testid="audit">
            <thead>
              <tr>
                <th>{t('settings.when')}</th>
                <th>{t('settings.who')}</th>
                <th>From</th>
                <th>{t('settings.what')}</th>
                <th>{t('settings.version')}</th>
              </tr>
            </thead>
            <tbody>
              {audit.data.entries.map((e) => (
                <tr key={e.id}>
                  <td title={fmtDateTime(e.at_ms)}>{fmtAgo(e.at_ms)}</td>
                  <td>{e.actor}</td>
                  <td className="mono small" title="The caller's address">{e.peer ?? ''}</td>
                  <td>{actionWords()[e.action] ?? e.action}{detailText(e.detail)}</td>
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
