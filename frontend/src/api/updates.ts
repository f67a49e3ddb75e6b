// Signed self-update (gateway-core/src/update/, docs/install.md): check the
// release manifest, install (or only verify) the offered build, roll back to
// the kept one. Checking is open to viewers; apply and rollback need admin.
// On an error nothing was replaced (the gateway verifies before it writes).
import { call, query } from './transport';
import type { UpdateApplySpec, UpdateCheck, UpdateOutcome, UpdateRolledBack, UpdateStatus } from './types';

/**
 * update::apply::Status carries `action` as an internally tagged enum; the
 * gateway flattens it (`"action": "below_minimum", "minimum": "0.2.0"`), but
 * a status serialized without `#[serde(flatten)]` nests it
 * (`"action": {"action": "below_minimum", "minimum": "0.2.0"}`). Both → flat.
 */
export function normalizeStatus(s: UpdateStatus): UpdateStatus {
  const a = (s as unknown as { action: unknown }).action;
  if (a && typeof a === 'object' && typeof (a as { action?: unknown }).action === 'string') {
    const { action, ...extra } = a as { action: UpdateStatus['action'] } & Record<string, unknown>;
    return { ...s, ...extra, action } as UpdateStatus;
  }
  return s;
}

export function normalizeCheck(c: UpdateCheck): UpdateCheck {
  return c.status ? { ...c, status: normalizeStatus(c.status) } : c;
}

export const updates = {
  /** Fetches and verifies the manifest; downloads no binary. */
  check: async (manifestUrl?: string) =>
    normalizeCheck(await call<UpdateCheck>('GET', '/update/check' + query({ manifest_url: manifestUrl }))),
  /** Downloads, verifies (signatures and checksum) and, unless `dry_run`, replaces the binary. */
  apply: (spec: UpdateApplySpec = {}) => call<UpdateOutcome>('POST', '/update/apply', spec),
  /** Puts the kept previous version back (the replaced one is kept in turn). */
  rollback: () => call<UpdateRolledBack>('POST', '/update/rollback', {}),
};
