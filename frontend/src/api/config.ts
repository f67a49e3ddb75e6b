// The config lifecycle: structured drafts (edited server-side so the file's
// comments survive), preview, publish, history, rollback, profiles, routes.
import { call, query } from './transport';
import type { Draft, DraftOp, History, LiveConfig, Preview, Published, RoutesInfo, Version } from './types';

export const config = {
  live: () => call<LiveConfig>('GET', '/config'),
  routes: () => call<RoutesInfo>('GET', '/routes'),
  /** Where a request for `model` goes with the live config (exact, pattern, provider/model, listed). */
  routeFor: (model: string) => call<RoutesInfo>('GET', '/routes' + query({ model })),
  /** Applies `ops` to the live TOML (or `base_toml`) server-side; publishes nothing. */
  draft: (ops: DraftOp[], baseToml?: string) =>
    call<Draft>('POST', '/config/draft', baseToml === undefined ? { ops } : { ops, base_toml: baseToml }),
  diff: (toml: string) => call<Preview>('POST', '/config/diff', { toml }),
  publish: (toml: string, message: string, baseVersion?: number) =>
    call<Published>('POST', '/config/publish', { toml, message, source: 'ui', base_version: baseVersion }),
  history: (limit = 30, before?: number) => call<History>('GET', '/config/history' + query({ limit, before })),
  version: (id: number) => call<Version>('GET', `/config/versions/${id}`),
  rollback: (version: number, message: string) => call<Published>('POST', '/config/rollback', { version, message }),
  /** `null` switches back to the top-level routes. */
  switchProfile: (profile: string | null) => call<Published>('POST', '/config/profile', { profile }),
};
