// Browser login: paste the admin (or viewer) token once; the gateway answers
// with an HttpOnly session cookie. The token is not kept by the page.
import { useState, type FormEvent } from 'react';
import { session } from '../api';
import { toApiError, type ApiError } from '../api/transport';
import type { Role } from '../api/types';
import { ErrorNote, Spinner } from '../components/ui';
import { useAction } from '../lib/hooks';

export function Login({ onLoggedIn }: { onLoggedIn: (role: Role) => void }) {
  const [token, setToken] = useState('');
  const login = useAction(async (t: string) => {
    const r = await session.login(t).catch((e) => {
      throw refusedInWords(toApiError(e));
    });
    setToken('');
    onLoggedIn(r.role);
  });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (token.trim()) void login.run(token.trim());
  };

  return (
    <div className="center-screen login">
      <form className="card narrow" onSubmit={submit} aria-labelledby="login-title">
        <div className="login-brand">
          <img src={import.meta.env.BASE_URL + 'favicon.svg'} alt="" width="40" height="40" />
          <h1 id="login-title" className="h-title">AI Model Gateway</h1>
        </div>
        <p className="muted">
          Paste the gateway’s admin token to open the operator console. You stay signed in on this browser for 12 hours;
          the token itself is not stored here.
        </p>
        <div className="field">
          <label htmlFor="token">Admin token</label>
          <input
            id="token"
            name="token"
            type="password"
            autoComplete="off"
            spellCheck={false}
            autoFocus
            placeholder="aigw_admin_…"
            value={token}
            onChange={(e) => setToken(e.target.value)}
          />
        </div>
        <ErrorNote error={login.error} title="Could not sign in" />
        <button className="btn btn-primary btn-block" type="submit" disabled={login.busy || !token.trim()}>
          {login.busy ? <Spinner label="Signing in" /> : 'Sign in'}
        </button>
        <details className="help">
          <summary>Where do I find the token?</summary>
          <p>
            It was created on the gateway’s first run and kept in the OS keychain (service{' '}
            <code>ai-model-gateway-admin</code>); on Linux: <code>secret-tool search service ai-model-gateway-admin</code>.
            Where no keychain was reachable it is in <code>admin-tokens.json</code> in the data dir (
            <code>aigw paths</code> shows where). A viewer token signs in read-only.
          </p>
        </details>
      </form>
    </div>
  );
}

/** A refused token, said in words. */
function refusedInWords(a: ApiError): ApiError {
  return a.status === 401
    ? Object.assign(a, { message: 'That token is not this gateway’s admin or viewer token. Check for a missing character and try again.' })
    : a;
}
