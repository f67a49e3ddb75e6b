// Connect tools (gateway-core/src/api/admin/clients.rs, docs/clients.md):
// which coding agents are installed and pointed at this gateway, what
// connecting would write, connect and disconnect (admin, audited).
import { call } from './transport';
import type { ClientOutcome, ClientPreview, Clients, ConnectBody } from './types';

const path = (name: string, action: string) => `/clients/${encodeURIComponent(name)}/${action}`;

/** Only what is set: the gateway fills the rest (its routes as the models). */
export function connectBody(body: ConnectBody = {}): ConnectBody {
  const out: ConnectBody = {};
  if (body.models && Object.keys(body.models).length) out.models = body.models;
  if (body.force) out.force = true;
  if (body.subscription) out.subscription = true;
  return out;
}

export const clients = {
  /** Every known tool with its state; viewers may read it. */
  list: () => call<Clients>('GET', '/clients'),
  /** What `connect` would write, file by file; writes nothing. */
  preview: (name: string, body?: ConnectBody) => call<ClientPreview>('POST', path(name, 'preview'), connectBody(body)),
  /** `force`: create the tool's config dir even when it is not found on this machine. */
  connect: (name: string, body?: ConnectBody) => call<ClientOutcome>('POST', path(name, 'connect'), connectBody(body)),
  disconnect: (name: string) => call<ClientOutcome>('POST', path(name, 'disconnect'), {}),
};
