// Gateway status, pause/resume and the audit log.
import { call, query } from './transport';
import type { AuditEntry, Status } from './types';

export const status = {
  get: () => call<Status>('GET', '/status'),
  /** Stops (or resumes) serving client traffic; the admin API keeps working. */
  setPaused: (paused: boolean) => call<{ paused: boolean }>('POST', '/pause', { paused }),
  audit: (limit = 50, before?: number) =>
    call<{ entries: AuditEntry[] }>('GET', '/audit' + query({ limit, before })),
};
