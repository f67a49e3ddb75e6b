// Keys in the OS keychain: write-only. The UI never reads a secret back.
import { call } from './transport';
import type { KeyInfo } from './types';

export const keys = {
  list: async () => (await call<{ keys: KeyInfo[] }>('GET', '/keys')).keys,
  set: (name: string, secret: string) =>
    call<KeyInfo>('PUT', `/keys/${encodeURIComponent(name)}`, { secret }),
  remove: (name: string) => call<{ name: string; present: boolean }>('DELETE', `/keys/${encodeURIComponent(name)}`),
};
