// "Download diagnostics" on Settings: the diagnostics bundle
// (GET /admin/api/diagnostics, admin only) — status, config versions, doctor
// results, recent errors and audit, the config with references only, and
// platform facts; secrets are redacted by the gateway.
import type { Role } from '../api/types';
import { t, tn } from '../i18n';

export function DiagnosticsSection({ role, transport }: { role: Role; transport: 'browser' | 'tauri' }) {
  return (
    <section className="card" aria-labelledby="diag-title">
      <div className="card-head">
        <h2 id="diag-title">{t('diagnostics.title')}</h2>
      </div>
      <p className="small muted">
        {t('diagnostics.explain')}
      </p>
      {role !== 'admin' ? (
        <p className="small muted">{t('diagnostics.needs_admin')}</p>
      ) : transport === 'browser' ? (
        <a className="btn" href="/admin/api/diagnostics" download data-testid="diagnostics-download">
          {t('diagnostics.download')}
        </a>
      ) : (
        <p className="small muted">
          {tn('diagnostics.desktop', { command: <code>aigw diagnose --out aigw-diagnostics.tar.gz</code> })}
        </p>
      )}
    </section>
  );
}
