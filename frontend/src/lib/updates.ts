// The Updates section in words: what a check found, which buttons a role
// gets, and what an install, a dry run or a rollback did. Pure, unit tested
// (updates.test.ts); pages/Settings.tsx → components/Updates.tsx renders it.
import type { Role, UpdateCheck, UpdateOutcome, UpdateRolledBack, UpdateStatus } from '../api/types';
import { t } from '../i18n';

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
  return s.installed.is_self ? t('upd.installed', { version: s.installed.version }) : t('upd.installed_at', { version: s.installed.version, path: s.installed.path });
}

/** What a check found, in words. */
export function describeUpdate(check: UpdateCheck): UpdateWords {
  if (!check.configured) {
    return {
      tone: 'neutral',
      headline: t('upd.not_set_up'),
      detail: check.message || t('upd.no_manifest_url'),
    };
  }
  const s = check.status;
  if (!s) return { tone: 'warn', headline: t('upd.no_status'), detail: t('upd.check_again') };
  const day = releaseDay(s.date);
  switch (s.action) {
    case 'up_to_date':
      return { tone: 'ok', headline: t('upd.up_to_date', { version: s.installed.version }), detail: day ? t('upd.latest_from', { version: s.offered, day }) : undefined };
    case 'update':
      return {
        tone: 'info',
        headline: day ? t('upd.available_released', { version: s.offered, day }) : t('upd.available', { version: s.offered }),
        detail: installedText(s),
      };
    case 'downgrade':
      return {
        tone: 'ok',
        headline: t('upd.older_offered', { version: s.installed.version, offered: s.offered }),
        detail: t('upd.downgrade_detail'),
      };
    case 'below_minimum':
      return {
        tone: 'warn',
        headline: t('upd.needs_at_least', { minimum: s.minimum ?? t('upd.a_newer_version') }),
        detail: t('upd.too_old', { offered: s.offered, version: s.installed.version }),
      };
    case 'no_build': {
      const avail = s.available?.length ? s.available.join(', ') : t('upd.none');
      return {
        tone: 'warn',
        headline: t('upd.no_build', { available: avail }),
        detail: t('upd.no_archive', { offered: s.offered, target: s.target }),
      };
    }
    default:
      return { tone: 'neutral', headline: t('upd.offers', { offered: s.offered }), detail: t('upd.unknown_action', { action: String(s.action) }) };
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
      label: downgrade ? t('upd.downgrade_to', { version: offered }) : t('upd.install', { version: offered }),
      hint,
      allowDowngrade: downgrade,
    },
    verify: {
      shown: installable,
      enabled: installable && enabled,
      label: t('upd.verify_only'),
      hint,
    },
    rollback: {
      shown: prev !== null,
      enabled: prev !== null && enabled,
      label: prev ? t('upd.roll_back_to', { version: prev.version }) : t('upd.roll_back'),
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
      return { tone: 'ok', text: t('upd.already', { version: o.version }), restart: 'none' };
    case 'dry_run':
      return {
        tone: 'ok',
        text: t('upd.verified', { to: o.to, binary: o.binary, from: o.from }),
        restart: 'none',
      };
    case 'updated': {
      const restart = restartFor(o.restart_needed, mode);
      const where = restart === 'button' ? '' : t('upd.at_path', { path: o.binary });
      const tail = restart === 'service' ? t('upd.restart_tail') : '';
      return { tone: 'ok', text: t('upd.installed_done', { to: o.to, where, from: o.from, tail }), restart };
    }
    default:
      return { tone: 'neutral', text: t('upd.unknown_outcome'), restart: 'none' };
  }
}

/** What `POST /update/rollback` did, in words. */
export function rollbackWords(r: UpdateRolledBack, mode: RestartMode): OpWords {
  const restart = restartFor(r.restart_needed, mode);
  const where = restart === 'button' ? '' : t('upd.at_path', { path: r.binary });
  const tail = restart === 'service' ? t('upd.restart_tail') : '';
  return {
    tone: 'ok',
    text: t('upd.rolled_back', { restored: r.restored, where, replaced: r.replaced, tail }),
    restart,
  };
}

/** A failed apply or rollback: the gateway verifies before it writes, so nothing changed. */
export function failureWords(e: { code: string; message: string }): string {
  if (e.code === 'admin_role_required' || e.code === 'forbidden') return t('upd.not_allowed', { message: e.message });
  if (e.code === 'network_error') return e.message;
  // The gateway's message may already say so ("nothing was changed: …").
  const why = e.message.replace(/^\s*nothing (was|has been) changed\s*[:.,;-]\s*/i, '');
  return t('upd.nothing_changed', { why });
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
