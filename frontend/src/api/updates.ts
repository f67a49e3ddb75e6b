// Signed self-update (gateway-core/src/update/, docs/install.md): check the
// release manifest, install (or only verify) the offered build, roll back to
// the kept one. Checking is open to viewers; apply and rollback need admin.
// On an error nothing was replaced (the gateway verifies before it writes).
import { call, query } from './transport';
import type { UpdateApplySpec, UpdateCheck, UpdateOutcome, UpdateRolledBack } from './types';

export const updates = {
  /** Fetches and verifies the manifest; downloads no binary. */
  check: (manifestUrl?: string) => call<UpdateCheck>('GET', '/update/check' + query({ manifest_url: manifestUrl })),
  /** Downloads, verifies (signatures and checksum) and, unless `dry_run`, replaces the binary. */
  apply: (spec: UpdateApplySpec = {}) => call<UpdateOutcome>('POST', '/update/apply', spec),
  /** Puts the kept previous version back (the replaced one is kept in turn). */
  rollback: () => call<UpdateRolledBack>('POST', '/update/rollback', {}),
};
