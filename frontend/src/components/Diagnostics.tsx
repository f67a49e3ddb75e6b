// "Download diagnostics" on Settings: the diagnostics bundle
// (GET /admin/api/diagnostics, admin only) — status, config versions, doctor
// results, recent errors and audit, the config with references only, and
// platform facts; secrets are redacted by the gateway.
import type { Role } from '../api/types';

export function DiagnosticsSection({ role, transport }: { role: Role; transport: 'browser' | 'tauri' }) {
  return (
    <section className="card" aria-labelledby="diag-title">
      <div className="card-head">
        <h2 id="diag-title">Diagnostics</h2>
      </div>
      <p className="small muted">
        One archive for a bug report: status, config versions, doctor checks, recent errors and audit entries, the config
        (key references only) and platform facts. Keys, tokens and header values are redacted; look it over before you
        share it.
      </p>
      {role !== 'admin' ? (
        <p className="small muted">Needs the admin role.</p>
      ) : transport === 'browser' ? (
        <a className="btn" href="/admin/api/diagnostics" download data-testid="diagnostics-download">
          Download diagnostics
        </a>
      ) : (
        <p className="small muted">
          In the desktop app, run <code>aigw diagnose --out aigw-diagnostics.tar.gz</code>.
        </p>
      )}
    </section>
  );
}
