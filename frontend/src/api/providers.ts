// Providers: list with key presence and health, probe, local server detection.
// Adding, editing and removing providers are config edits: see config.ts.
import { call } from './transport';
import type { LocalServer, ProbeReport, ProviderInfo } from './types';

export const providers = {
  list: async () => (await call<{ providers: ProviderInfo[] }>('GET', '/providers')).providers,
  probe: (name: string) => call<ProbeReport>('POST', `/providers/${encodeURIComponent(name)}/probe`),
  detectLocal: async () => (await call<{ servers: LocalServer[] }>('GET', '/detect-local')).servers,
};
