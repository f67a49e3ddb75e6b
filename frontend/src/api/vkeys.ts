// Virtual client keys (team mode): list with spend, create (the secret comes
// back this once), revoke, rotate; and spend by key/team from the request log.
// The shapes mirror gateway-core's vkeys::{KeyView, Issued, NewKey} and
// telemetry::spend::Spend.
import { call } from './transport';

export type Period = 'daily' | 'weekly' | 'monthly';

export interface VirtualKey {
  id: string;
  name: string;
  team: string | null;
  models: string[];
  rpm: number;
  tpm: number;
  budget_usd: number | null;
  period: Period;
  expires_at_ms: number | null;
  tags: Record<string, string>;
  created_at_ms: number;
  revoked_at_ms: number | null;
  prefix: string;
  status: 'active' | 'revoked' | 'expired';
  spent_usd: number;
  reserved_usd: number;
  period_start_ms: number;
  resets_at_ms: number;
}

export interface NewVirtualKey {
  name: string;
  team?: string | null;
  models?: string[];
  rpm?: number;
  tpm?: number;
  budget_usd?: number | null;
  period?: Period;
  expires_in_s?: number | null;
  tags?: Record<string, string>;
}

export interface Issued {
  key: Omit<VirtualKey, 'status' | 'spent_usd' | 'reserved_usd' | 'period_start_ms' | 'resets_at_ms'>;
  secret: string;
}

export interface SpendRow {
  virtual_key: string | null;
  name: string | null;
  team: string | null;
  requests: number;
  errors: number;
  tokens_in: number;
  tokens_out: number;
  cost_usd: number;
}

export interface Spend {
  from_ms: number;
  to_ms: number;
  keys: SpendRow[];
  teams: SpendRow[];
}

export const vkeys = {
  list: async () => (await call<{ keys: VirtualKey[] }>('GET', '/keys/client')).keys,
  create: (k: NewVirtualKey) => call<Issued>('POST', '/keys/client', k),
  revoke: (id: string) => call<Issued['key']>('POST', `/keys/client/${encodeURIComponent(id)}/revoke`, {}),
  rotate: (id: string, graceS = 0) => call<Issued>('POST', `/keys/client/${encodeURIComponent(id)}/rotate`, { grace_s: graceS }),
  spend: (minutes = 30 * 24 * 60) => call<Spend>('GET', `/telemetry/keys?minutes=${minutes}`),
};
