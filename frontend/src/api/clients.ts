// Connect tools (gateway-core/src/api/admin/clients.rs, docs/clients.md):
// which coding agents are installed and pointed at this gateway, what
// connecting would write, connect and disconnect (admin, audited).
import { call } from './transport';
import type { ClientOutcome, ClientPreview, Clients, ModelMap } from './types';

const path = (name: string, action: string) => `/clients/${encodeURIComponent(name)}/${action}`;

export const clients = {
  /** Every known tool with its state; viewers may read it. */
  list: () => call<Clients>('GET', '/clients'),
  /** What `connect` would write, file by file; writes nothing. */
  preview: (name: string, models?: ModelMap) =>
    call<ClientPreview>('POST', path(name, 'preview'), models && Object.keys(models).length ? { models } : {}),
  connect: (name: string, models?: ModelMap) =>
    call<ClientOutcome>('POST', path(name, 'connect'), models && Object.keys(models).length ? { models } : {}),
  disconnect: (name: string) => call<ClientOutcome>('POST', path(name, 'disconnect'), {}),
};
