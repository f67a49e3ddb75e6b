// Browser login: paste the admin (or viewer) token once; the gateway answers
// with an HttpOnly session cookie. The token is not kept by the page.
import { useState, type FormEvent } from 'react';
import { session } from '../api';
import { toApiError, type ApiError } from '../api/transport';
import type { Role } from '../api/types';
import { ErrorNote, Spinner } from '../components/ui';
import { useAction } from '../lib/hooks';
import { t, tn } from '../i18n';

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
        <p className="muted">{t('login.paste_the_gateway_s_admin')}</p>
        <div className="field">
          <label htmlFor="token">{t('login.admin_token')}</label>
          <input
            id="token"
            name="token"
            type="password"
            autoComplete="off"
            spellCheck={false}
            autoFocus
            placeholder={t('login.aigw_admin')}
            value={token}
            onChange={(e) => setToken(e.target.value)}
          />
        </div>
        <ErrorNote error={login.error} title={t('login.could_not_sign_in')} />
        <button className="btn btn-primary btn-block" type="submit" disabled={login.busy || !token.trim()}>
          {login.busy ? <Spinner label={t('login.signing_in')} /> : t('login.sign_in')}
        </button>
        <details className="help">
          <summary>{t('login.where_do_i_find_the')}</summary>
          <p>
            {tn('login.token_help', {
              service: <code>ai-model-gateway-admin</code>,
              command: <code>secret-tool search service ai-model-gateway-admin</code>,
              file: <code>admin-tokens.json</code>,
              paths: <code>aigw paths</code>,
            })}</p>
        </details>
      </form>
    </div>
  );
}

/** A refused token, said in words. */
function refusedInWords(a: ApiError): ApiError {
  return a.status === 401
    ? Object.assign(a, { message: t('login.that_token_is_not_this') })
    : a;
}
