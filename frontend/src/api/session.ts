// Admin session: login with the admin (or viewer) token once, then a cookie.
import { call } from './transport';
import type { Role, Session } from './types';

export const session = {
  /** Who am I? Throws `ApiError` with status 401 when not logged in. */
  whoami: () => call<Session>('GET', '/session'),
  login: (token: string) => call<{ role: Role }>('POST', '/login', { token }),
  logout: () => call<{ ok: boolean }>('POST', '/logout'),
};
