// The shell: session check (login page in a browser), sidebar navigation
// with keyboard shortcuts, and the page for the current hash route.
import { useCallback, useEffect, useMemo, useState, type ReactNode } from 'react';
import { session, status as statusApi } from './api';
import { ApiError, onUnauthorized, toApiError, transport } from './api/transport';
import type { Role } from './api/types';
import { AppContext, type AppCtx } from './context';
import { navigate, typingInto, useAsync, useHashRoute } from './lib/hooks';
import { Dialog, Dot, ErrorNote, Spinner, ToastProvider } from './components/ui';
import { Login } from './pages/Login';
import { Overview } from './pages/Overview';
import { Providers } from './pages/Providers';
import { Routing } from './pages/Routing';
import { FallbackTest } from './pages/FallbackTest';
import { Telemetry } from './pages/Telemetry';
import { Settings } from './pages/Settings';
import { Benchmark } from './pages/Benchmark';
import { Connect } from './pages/Connect';
import { ConfigEditor } from './pages/ConfigEditor';
import { Keys } from './pages/Keys';
import { Preferences } from './components/Preferences';
import { t } from './i18n';

interface PageDef {
  id: string;
  label: () => string;
  key: string;
  icon: ReactNode;
  render: () => ReactNode;
}

const I = ({ d }: { d: string }) => (
  <svg viewBox="0 0 24 24" width="18" height="18" fill="none" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" strokeLinejoin="round" aria-hidden="true">
    <path d={d} />
  </svg>
);

const PAGES: PageDef[] = [
  { id: 'overview', label: () => t('nav.overview'), key: '1', icon: <I d="M3 12l9-8 9 8M5 10v10h5v-6h4v6h5V10" />, render: () => <Overview /> },
  { id: 'providers', label: () => t('nav.providers'), key: '2', icon: <I d="M4 6h16M4 12h16M4 18h10M18 16l2 2-2 2" />, render: () => <Providers /> },
  { id: 'routing', label: () => t('nav.routing'), key: '3', icon: <I d="M4 6h6l4 12h6M14 6h6M4 18h6" />, render: () => <Routing /> },
  { id: 'fallback', label: () => t('nav.fallback'), key: '4', icon: <I d="M12 3v10M8 9l4 4 4-4M5 15v4h14v-4" />, render: () => <FallbackTest /> },
  { id: 'telemetry', label: () => t('nav.telemetry'), key: '5', icon: <I d="M4 19V5M4 19h16M8 15l3-4 3 2 5-6" />, render: () => <Telemetry /> },
  { id: 'benchmark', label: () => t('nav.benchmark'), key: '6', icon: <I d="M12 21a8 8 0 100-16 8 8 0 000 16zM12 13l3-3M10 2h4" />, render: () => <Benchmark /> },
  { id: 'connect', label: () => t('nav.connect'), key: '7', icon: <I d="M9 7V3M15 7V3M7 7h10v4a5 5 0 01-10 0zM12 16v5" />, render: () => <Connect /> },
  { id: 'settings', label: () => t('nav.settings'), key: '8', icon: <I d="M12 15a3 3 0 100-6 3 3 0 000 6zM19 12a7 7 0 00-.1-1.2l2-1.6-2-3.4-2.4 1a7 7 0 00-2-1.2L14 3h-4l-.5 2.6a7 7 0 00-2 1.2l-2.4-1-2 3.4 2 1.6A7 7 0 005 12c0 .4 0 .8.1 1.2l-2 1.6 2 3.4 2.4-1c.6.5 1.3.9 2 1.2L10 21h4l.5-2.6c.7-.3 1.4-.7 2-1.2l2.4 1 2-3.4-2-1.6c.1-.4.1-.8.1-1.2z" />, render: () => <Settings /> },
  { id: 'keys', label: () => t('nav.keys'), key: '0', icon: <I d="M15 7a4 4 0 11-3.9 5H3v3h3v3h3v-3h2.1A4 4 0 0115 7z" />, render: () => <Keys /> },
  { id: 'config', label: () => t('nav.config'), key: '9', icon: <I d="M6 3h9l4 4v14H6zM14 3v5h5M9 13h6M9 17h4" />, render: () => <ConfigEditor /> },
];

type Auth = { state: 'checking' } | { state: 'login' } | { state: 'in'; role: Role } | { state: 'down'; error: ApiError };

export function App() {
  const [auth, setAuth] = useState<Auth>({ state: 'checking' });
  const tr = transport();

  const check = useCallback(() => {
    setAuth({ state: 'checking' });
    session.whoami().then(
      (s) => setAuth({ state: 'in', role: s.role }),
      (e) => {
        const err = toApiError(e);
        if (err.status === 401 && tr.kind === 'browser') setAuth({ state: 'login' });
        else setAuth({ state: 'down', error: err });
      },
    );
  }, [tr.kind]);

  useEffect(check, [check]);
  useEffect(
    () =>
      onUnauthorized(() => {
        if (tr.kind === 'browser') setAuth({ state: 'login' });
      }),
    [tr.kind],
  );

  return (
    <ToastProvider>
      {auth.state === 'checking' && (
        <div className="center-screen">
          <Spinner label={t('app.connecting_to_the_gateway')} />
        </div>
      )}
      {auth.state === 'login' && <Login onLoggedIn={(role) => setAuth({ state: 'in', role })} />}
      {auth.state === 'down' && (
        <div className="center-screen">
          <div className="card narrow">
            <h1 className="h-title">{t('app.cannot_reach_the_gateway')}</h1>
            <ErrorNote error={auth.error} title={t('app.the_admin_api_did_not')} onRetry={check} />
          </div>
        </div>
      )}
      {auth.state === 'in' && <Shell role={auth.role} onLoggedOut={() => setAuth({ state: 'login' })} />}
    </ToastProvider>
  );
}

function Shell({ role, onLoggedOut }: { role: Role; onLoggedOut: () => void }) {
  const { page } = useHashRoute();
  const st = useAsync(() => statusApi.get(), [], 5000);
  const current = PAGES.find((p) => p.id === page) ?? PAGES[0];
  const kind = transport().kind;
  const [help, setHelp] = useState(false);

  useEffect(() => {
    const h = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.metaKey || e.altKey || typingInto(e.target) || document.querySelector('dialog[open]')) return;
      if (e.key === '?') {
        e.preventDefault();
        setHelp(true);
        return;
      }
      const p = PAGES.find((x) => x.key === e.key);
      if (p) {
        e.preventDefault();
        navigate(p.id);
      }
    };
    window.addEventListener('keydown', h);
    return () => window.removeEventListener('keydown', h);
  }, []);

  useEffect(() => {
    document.title = t('app.title_suffix', { page: current.label() });
    // Move focus to the page heading for screen readers and keyboard users.
    const h = document.querySelector<HTMLElement>('main h1');
    h?.focus({ preventScroll: true });
  }, [current]);

  const ctx: AppCtx = useMemo(
    () => ({
      role,
      canWrite: role === 'admin',
      transport: kind,
      status: st.data,
      statusError: st.error,
      reloadStatus: st.reload,
      logout: () => {
        session.logout().finally(onLoggedOut);
      },
    }),
    [role, kind, st.data, st.error, st.reload, onLoggedOut],
  );

  const paused = st.data?.paused === true;
  const stateTone = st.error ? 'err' : paused ? 'warn' : st.data ? 'ok' : 'neutral';
  const stateText = st.error ? t('app.unreachable') : paused ? t('app.paused') : st.data ? t('app.running') : '…';

  return (
    <AppContext.Provider value={ctx}>
      <div className="layout">
        <nav className="sidebar" aria-label={t('app.main')}>
          <div className="brand">
            <img src={import.meta.env.BASE_URL + 'favicon.svg'} alt="" width="26" height="26" />
            <div>
              <div className="brand-name">Model Gateway</div>
              <div className="brand-state" data-testid="gateway-state">
                <Dot tone={stateTone} /> {stateText}
              </div>
            </div>
          </div>
          <ul>
            {PAGES.map((p) => (
              <li key={p.id}>
                <a href={'#/' + p.id} className={p.id === current.id ? 'active' : ''} aria-current={p.id === current.id ? 'page' : undefined}>
                  {p.icon}
                  <span>{p.label()}</span>
                  <kbd title={t('app.press_key', { key: p.key })}>{p.key}</kbd>
                </a>
              </li>
            ))}
          </ul>
          <div className="sidebar-foot">
            {st.data && <div className="muted small">{t('app.versions', { version: st.data.version, config: st.data.config_version })}</div>}
            {role === 'viewer' && <div className="small warn-text">{t('app.read_only_viewer_token')}</div>}
            <button className="link-btn small" onClick={() => setHelp(true)}>{t('app.keyboard_shortcuts')}{' '}<kbd>?</kbd>
            </button>
            <Preferences />
          </div>
        </nav>
        <main className="content" id="main">
          {st.data?.config_file_error && (
            <div className="banner banner-warn" role="alert">
              {t('app.file_edit_rejected')}{' '}
              <code>{st.data.config_file_error}</code>
            </div>
          )}
          {st.data?.cluster_warnings?.map((w) => (
            <div className="banner banner-warn" role="alert" key={w}>
              {t('app.cluster_degraded')}{' '}
              <code>{w}</code>
            </div>
          ))}
          {current.render()}
        </main>
      </div>
      <Dialog open={help} title={t('app.keyboard_shortcuts')} onClose={() => setHelp(false)}>
        <table className="table shortcuts">
          <tbody>
            {PAGES.map((p) => (
              <tr key={p.id}>
                <td>
                  <kbd>{p.key}</kbd>
                </td>
                <td>{p.label()}</td>
              </tr>
            ))}
            <tr>
              <td>
                <kbd>Tab</kbd> / <kbd>Shift</kbd>+<kbd>Tab</kbd>
              </td>
              <td>{t('app.next_previous_control')}</td>
            </tr>
            <tr>
              <td>
                <kbd>Enter</kbd>
              </td>
              <td>{t('app.open_the_focused_request_in')}</td>
            </tr>
            <tr>
              <td>
                <kbd>←</kbd> <kbd>→</kbd>
              </td>
              <td>{t('app.switch_client_snippet_tabs')}</td>
            </tr>
            <tr>
              <td>
                <kbd>Esc</kbd>
              </td>
              <td>{t('app.close_a_dialog')}</td>
            </tr>
            <tr>
              <td>
                <kbd>?</kbd>
              </td>
              <td>{t('app.this_list')}</td>
            </tr>
          </tbody>
        </table>
      </Dialog>
    </AppContext.Provider>
  );
}
