// The Updates section in words: what a check found, which buttons a role
// gets, and what an install, a dry run or a rollback did. Pure, unit tested
// (updates.test.ts); pages/Settings.tsx → components/Updates.tsx renders it.
import type { Role, UpdateCheck, UpdateOutcome, UpdateRolledBack, UpdateStatus } from '../api/types';

export type Tone = 'ok' | 'info' | 'warn' | 'err' | 'neutral';

export interface UpdateWords {
  tone: Tone;
  headline: string;
  detail?: string;
}

/** `2026-11-25T13:00:00Z` → `2026-11-25` (the release day in UTC); '' when unreadable. */
export function releaseDay(date: string | null | undefined): string {
  if (!date) return '';
  const t = Date.parse(date);
  return Number.isFinite(t) ? new Date(t).toISOString().slice(0, 10) : '';
}

function installedText(s: UpdateStatus): string {
  return s.installed.is_self ? `${s.installed.version} is installed.` : `${s.installed.version} is installed at ${s.installed.path}.`;
}

/** What a check found, in words. */
export function describeUpdate(check: UpdateCheck): UpdateWords {
  if (!check.configured) {
    return {
      tone: 'neutral',
      headline: 'Update checks are not set up in this build',
      detail: check.message || 'This build has no release manifest URL.',
    };
  }
  const s = check.status;
  if (!s) return { tone: 'warn', headline: 'The gateway gave no update status', detail: 'Check again, or use the command line.' };
  const day = releaseDay(s.date);
  switch (s.action) {
    case 'up_to_date':
      return { tone: 'ok', headline: `Up to date (${s.installed.version})`, detail: day ? `The latest release, ${s.offered}, is from ${day}.` : undefined };
    case 'update':
      return {
        tone: 'info',
        headline: `Update available: ${s.offered}` + (day ? `, released ${day}` : ''),
        detail: installedText(s),
      };
    case 'downgrade':
      return {
        tone: 'ok',
        headline: `Up to date (${s.installed.version}); the release offers the older ${s.offered}`,
        detail: 'Installing it would be a downgrade, which the gateway refuses unless you ask for it.',
      };
    case 'below_minimum':
      return {
        tone: 'warn',
        headline: `Needs at least ${s.minimum ?? 'a newer version'}: install from the release archive`,
        detail: `${s.offered} is available, but ${s.installed.version} is too old to update in place (see docs/install.md).`,
      };
    case 'no_build': {
      const avail = s.available?.length ? s.available.join(', ') : 'none';
      return {
        tone: 'warn',
        headline: `No build for this platform (available: ${avail})`,
        detail: `Release ${s.offered} has no archive for ${s.target}.`,
      };
    }
    default:
      return { tone: 'neutral', headline: `The release offers ${s.offered}`, detail: `Unknown action “${String(s.action)}”.` };
  }
}

export interface ActionState {
  shown: boolean;
  enabled: boolean;
  label: string;
  /** Why it is disabled, in words. */
  hint?: string;
}

export interface UpdateControls {
  /** Install the offered version (`allow_downgrade` for a downgrade). */
  install: ActionState & { allowDowngrade: boolean };
  /** Download and verify only (`dry_run`). */
  verify: ActionState;
  rollback: ActionState;
}

export const VIEWER_HINT = 'Needs the admin role: you signed in with a viewer token, which only reads.';

/** Which buttons show and which are enabled, for a check, a role and whether something runs. */
export function updateControls(check: UpdateCheck | undefined, role: Role, busy: boolean): UpdateControls {
  const s = check?.configured ? check.status : undefined;
  const admin = role === 'admin';
  const enabled = admin && !busy;
  const hint = admin ? undefined : VIEWER_HINT;
  const offered = s?.offered ?? '';
  const installable = s?.action === 'update' || s?.action === 'downgrade';
  const downgrade = s?.action === 'downgrade';
  const prev = check?.previous ?? null;
  return {
    install: {
      shown: installable,
      enabled: installable && enabled,
      label: downgrade ? `Downgrade to ${offered}` : `Install ${offered}`,
      hint,
      allowDowngrade: downgrade,
    },
    verify: {
      shown: installable,
      enabled: installable && enabled,
      label: 'Verify only (dry run)',
      hint,
    },
    rollback: {
      shown: prev !== null,
      enabled: prev !== null && enabled,
      label: prev ? `Roll back to ${prev.version}` : 'Roll back',
      hint,
    },
  };
}

/**
 * How the page can get the new binary running: the desktop app restarts
 * itself (`restart_app`); a browser can only say how to restart the service.
 */
export type RestartMode = 'app' | 'service';

export function restartMode(transport: 'browser' | 'tauri', check: UpdateCheck | undefined): RestartMode {
  return transport === 'tauri' && check?.restart_supported !== false ? 'app' : 'service';
}

export interface OpWords {
  tone: Tone;
  text: string;
  /** `button`: offer "Restart now"; `service`: say how to restart; `none`: nothing to restart. */
  restart: 'button' | 'service' | 'none';
}

export const SERVICE_RESTART = 'systemctl restart aigw';

function restartFor(needed: boolean | undefined, mode: RestartMode): OpWords['restart'] {
  if (needed === false) return 'none';
  return mode === 'app' ? 'button' : 'service';
}

/** What `POST /update/apply` did, in words. */
export function applyWords(o: UpdateOutcome, mode: RestartMode): OpWords {
  switch (o.outcome) {
    case 'up_to_date':
      return { tone: 'ok', text: `Already up to date (${o.version}); nothing was installed.`, restart: 'none' };
    case 'dry_run':
      return {
        tone: 'ok',
        text: `Verified ${o.to}: the signatures and the checksum are good. Nothing was installed (${o.binary} stays at ${o.from}).`,
        restart: 'none',
      };
    case 'updated': {
      const restart = restartFor(o.restart_needed, mode);
      const where = restart === 'button' ? '' : ` at ${o.binary}`;
      const tail = restart === 'service' ? ' Restart the gateway to run it.' : '';
      return { tone: 'ok', text: `Installed ${o.to}${where}. ${o.from} is kept for rollback.${tail}`, restart };
    }
    default:
      return { tone: 'neutral', text: 'The gateway answered with an unknown outcome.', restart: 'none' };
  }
}

/** What `POST /update/rollback` did, in words. */
export function rollbackWords(r: UpdateRolledBack, mode: RestartMode): OpWords {
  const restart = restartFor(r.restart_needed, mode);
  const where = restart === 'button' ? '' : ` at ${r.binary}`;
  const tail = restart === 'service' ? ' Restart the gateway to run it.' : '';
  return {
    tone: 'ok',
    text: `Rolled back to ${r.restored}${where}. ${r.replaced} is kept, so rolling back again undoes this.${tail}`,
    restart,
  };
}

/** A failed apply or rollback: the gateway verifies before it writes, so nothing changed. */
export function failureWords(e: { code: string; message: string }): string {
  if (e.code === 'admin_role_required' || e.code === 'forbidden') return `Not allowed: ${e.message}`;
  if (e.code === 'network_error') return e.message;
  // The gateway's message may already say so ("nothing was changed: …").
  const why = e.message.replace(/^\s*nothing (was|has been) changed\s*[:.,;-]\s*/i, '');
  return `Nothing was changed: ${why}`;
}

/**
 * The desktop tray's `update-check` event: `{ok: true, result}` or
 * `{ok: false, error}`. `result` is the admin API's check answer, or (older
 * desktop builds) the bare update status with a `summary`. Returns the new
 * check (merged into the one shown), an error, or nothing usable.
 */
export function fromTrayEvent(
  prev: UpdateCheck | undefined,
  payload: unknown,
): { check: UpdateCheck } | { error: { code: string; message: string } } | null {
  if (!payload || typeof payload !== 'object') return null;
  const p = payload as { ok?: unknown; result?: unknown; error?: unknown };
  if (p.ok === false) {
    const e = p.error as { code?: unknown; message?: unknown } | string | undefined;
    if (typeof e === 'string') return { error: { code: 'update_check_failed', message: e } };
    return {
      error: {
        code: typeof e?.code === 'string' ? e.code : 'update_check_failed',
        message: typeof e?.message === 'string' ? e.message : 'The tray’s update check failed',
      },
    };
  }
  if (p.ok !== true || !p.result || typeof p.result !== 'object') return null;
  const r = p.result as Record<string, unknown>;
  if (typeof r.configured === 'boolean') return { check: r as unknown as UpdateCheck };
  if (r.action && typeof r.offered === 'string' && r.installed && typeof r.installed === 'object') {
    const status = r as unknown as UpdateStatus;
    return {
      check: {
        ...(prev ?? { version: status.installed.version, previous: null }),
        configured: true,
        message: undefined,
        status,
      },
    };
  }
  return null;
}

/** `use `aigw update` here` → plain and code parts (an unpaired backtick stays text). */
export function splitCode(text: string): { text: string; code: boolean }[] {
  const parts = text.split('`');
  if (parts.length % 2 === 0) return [{ text, code: false }];
  return parts.map((t, i) => ({ text: t, code: i % 2 === 1 })).filter((p) => p.text !== '');
}

/**
 * After a failed check nothing is verified, so nothing is offered; but the
 * gateway sends beside the error what it knows without the manifest (the
 * running version, the kept previous version), so "Roll back" stays
 * possible while the release server is down. Without those, what the last
 * check knew, minus its offer.
 */
export function keptFacts(err: { details: Record<string, unknown> }, prev: UpdateCheck | undefined): UpdateCheck | undefined {
  const d = err.details;
  if (typeof d.version === 'string') {
    return {
      app: d.app === 'aigw' || d.app === 'aigw-desktop' ? d.app : prev?.app,
      version: d.version,
      configured: d.configured !== false,
      restart_supported: d.restart_supported === true,
      previous: (d.previous as UpdateCheck['previous']) ?? null,
    };
  }
  return prev && { ...prev, status: undefined };
}
