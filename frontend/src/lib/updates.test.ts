import { describe, expect, it } from 'vitest';
import type { UpdateCheck, UpdateStatus } from '../api/types';
import {
  viewerHint,
  applyWords,
  describeUpdate,
  failureWords,
  fromTrayEvent,
  keptFacts,
  releaseDay,
  splitCode,
  restartMode,
  rollbackWords,
  updateControls,
} from './updates';

const status = (over: Partial<UpdateStatus> = {}): UpdateStatus => ({
  installed: { path: '/usr/local/bin/aigw', version: '0.1.0', is_self: true },
  offered: '0.2.0',
  date: '2026-11-20T09:30:00Z',
  notes_url: 'https://example.test/notes/0.2.0',
  target: 'x86_64-unknown-linux-gnu',
  action: 'update',
  manifest_url: 'https://example.test/manifest.json',
  key: 'essWqVcUu6iwBL1uDPnhY5dod1+7565KG+2oX2U/HhQ=',
  ...over,
});

const check = (over: Partial<UpdateCheck> = {}, st: Partial<UpdateStatus> = {}): UpdateCheck => ({
  app: 'aigw',
  version: '0.1.0',
  configured: true,
  restart_supported: false,
  previous: null,
  status: status(st),
  ...over,
});

const previous = { version: '0.1.0', replaced_by: '0.2.0', saved_at: '2026-11-25T13:00:00Z' };

describe('describeUpdate', () => {
  it('up to date names the installed version', () => {
    const w = describeUpdate(check({}, { action: 'up_to_date', offered: '0.1.0' }));
    expect(w.tone).toBe('ok');
    expect(w.headline).toBe('Up to date (0.1.0)');
  });

  it('an update names the version and its release day', () => {
    const w = describeUpdate(check());
    expect(w.headline).toBe('Update available: 0.2.0, released 2026-11-20');
    expect(w.detail).toBe('0.1.0 is installed.');
  });

  it('says where the binary is when it is not the running executable', () => {
    const w = describeUpdate(check({}, { installed: { path: '/tmp/x/aigw', version: '0.0.1', is_self: false } }));
    expect(w.detail).toBe('0.0.1 is installed at /tmp/x/aigw.');
  });

  it('leaves out an unreadable date', () => {
    expect(describeUpdate(check({}, { date: 'someday' })).headline).toBe('Update available: 0.2.0');
  });

  it('below the minimum: install from the release archive', () => {
    const w = describeUpdate(check({}, { action: 'below_minimum', minimum: '0.1.5', installed: { path: '/a', version: '0.1.0', is_self: true } }));
    expect(w.tone).toBe('warn');
    expect(w.headline).toBe('Needs at least 0.1.5: install from the release archive');
  });

  it('no build for this platform lists what there is', () => {
    const w = describeUpdate(check({}, { action: 'no_build', available: ['aarch64-apple-darwin', 'x86_64-pc-windows-msvc'] }));
    expect(w.headline).toBe('No build for this platform (available: aarch64-apple-darwin, x86_64-pc-windows-msvc)');
    expect(w.detail).toContain('x86_64-unknown-linux-gnu');
    expect(describeUpdate(check({}, { action: 'no_build', available: [] })).headline).toContain('available: none');
  });

  it('an older release is not offered as an update', () => {
    const w = describeUpdate(check({}, { action: 'downgrade', offered: '0.0.9' }));
    expect(w.headline).toBe('Up to date (0.1.0); the release offers the older 0.0.9');
  });

  it('not configured shows the gateway’s message', () => {
    const w = describeUpdate({ version: '0.1.0', configured: false, message: 'this build has no release manifest URL' });
    expect(w.headline).toMatch(/not set up/);
    expect(w.detail).toBe('this build has no release manifest URL');
  });
});

describe('releaseDay', () => {
  it('is the UTC day of an RFC 3339 time', () => {
    expect(releaseDay('2026-11-25T23:30:00-05:00')).toBe('2026-11-26');
    expect(releaseDay('')).toBe('');
    expect(releaseDay(null)).toBe('');
  });
});

describe('updateControls', () => {
  it('an admin with an update gets install and dry run, enabled', () => {
    const c = updateControls(check(), 'admin', false);
    expect(c.install).toMatchObject({ shown: true, enabled: true, label: 'Install 0.2.0', allowDowngrade: false });
    expect(c.install.hint).toBeUndefined();
    expect(c.verify).toMatchObject({ shown: true, enabled: true, label: 'Verify only (dry run)' });
    expect(c.rollback.shown).toBe(false);
  });

  it('a viewer sees them disabled, with the reason', () => {
    const c = updateControls(check({ previous }), 'viewer', false);
    expect(c.install).toMatchObject({ shown: true, enabled: false, hint: viewerHint() });
    expect(c.verify.enabled).toBe(false);
    expect(c.rollback).toMatchObject({ shown: true, enabled: false, label: 'Roll back to 0.1.0' });
  });

  it('nothing to install when up to date, below the minimum or without a build', () => {
    for (const action of ['up_to_date', 'below_minimum', 'no_build'] as const) {
      const c = updateControls(check({}, { action }), 'admin', false);
      expect(c.install.shown, action).toBe(false);
      expect(c.verify.shown, action).toBe(false);
    }
  });

  it('a downgrade is offered explicitly', () => {
    const c = updateControls(check({}, { action: 'downgrade', offered: '0.0.9' }), 'admin', false);
    expect(c.install).toMatchObject({ shown: true, label: 'Downgrade to 0.0.9', allowDowngrade: true });
  });

  it('rollback shows when a previous version is kept, even with no status', () => {
    const c = updateControls({ version: '0.2.0', configured: false, previous }, 'admin', false);
    expect(c.rollback).toMatchObject({ shown: true, enabled: true, label: 'Roll back to 0.1.0' });
    expect(c.install.shown).toBe(false);
  });

  it('everything waits while something runs', () => {
    const c = updateControls(check({ previous }), 'admin', true);
    expect([c.install.enabled, c.verify.enabled, c.rollback.enabled]).toEqual([false, false, false]);
  });

  it('no check yet: nothing but the check button', () => {
    const c = updateControls(undefined, 'admin', false);
    expect([c.install.shown, c.verify.shown, c.rollback.shown]).toEqual([false, false, false]);
  });
});

describe('restartMode', () => {
  it('the desktop app restarts itself; a browser says how', () => {
    expect(restartMode('tauri', check({ restart_supported: true }))).toBe('app');
    expect(restartMode('tauri', check({ restart_supported: undefined }))).toBe('app');
    expect(restartMode('tauri', check({ restart_supported: false }))).toBe('service');
    expect(restartMode('browser', check({ restart_supported: true }))).toBe('service');
  });
});

describe('applyWords and rollbackWords', () => {
  const updated = { outcome: 'updated', from: '0.1.0', to: '0.2.0', binary: '/usr/local/bin/aigw', previous: '/data/previous/aigw', restart_needed: true } as const;

  it('installed in the browser: where, and restart the service', () => {
    const w = applyWords(updated, 'service');
    expect(w.text).toBe('Installed 0.2.0 at /usr/local/bin/aigw. 0.1.0 is kept for rollback. Restart the gateway to run it.');
    expect(w.restart).toBe('service');
  });

  it('installed in the desktop app: restart now', () => {
    const w = applyWords(updated, 'app');
    expect(w.text).toBe('Installed 0.2.0. 0.1.0 is kept for rollback.');
    expect(w.restart).toBe('button');
  });

  it('no restart when the gateway says none is needed', () => {
    expect(applyWords({ ...updated, restart_needed: false }, 'app').restart).toBe('none');
  });

  it('a dry run replaced nothing', () => {
    const w = applyWords({ outcome: 'dry_run', from: '0.1.0', to: '0.2.0', binary: '/usr/local/bin/aigw' }, 'service');
    expect(w.text).toMatch(/^Verified 0\.2\.0: .*Nothing was installed/);
    expect(w.restart).toBe('none');
  });

  it('already up to date', () => {
    expect(applyWords({ outcome: 'up_to_date', version: '0.2.0' }, 'service').text).toMatch(/^Already up to date \(0\.2\.0\)/);
  });

  it('rolled back, and how to undo it', () => {
    const w = rollbackWords({ binary: '/usr/local/bin/aigw', restored: '0.1.0', replaced: '0.2.0', restart_needed: true }, 'service');
    expect(w.text).toBe('Rolled back to 0.1.0 at /usr/local/bin/aigw. 0.2.0 is kept, so rolling back again undoes this. Restart the gateway to run it.');
    expect(rollbackWords({ binary: '/b', restored: '0.1.0', replaced: '0.2.0', restart_needed: true }, 'app').restart).toBe('button');
  });
});

describe('failureWords', () => {
  it('says nothing was changed, and why', () => {
    expect(failureWords({ code: 'update_failed', message: 'checksum mismatch for aigw-9.9.9.tar.gz' })).toBe(
      'Nothing was changed: checksum mismatch for aigw-9.9.9.tar.gz',
    );
    expect(failureWords({ code: 'package_managed', message: 'installed by the .deb' })).toBe('Nothing was changed: installed by the .deb');
    expect(failureWords({ code: 'update_failed', message: 'nothing was changed: signature invalid' })).toBe('Nothing was changed: signature invalid');
    expect(failureWords({ code: 'admin_role_required', message: 'viewers read only' })).toBe('Not allowed: viewers read only');
  });
});

describe('fromTrayEvent', () => {
  it('takes a whole check answer', () => {
    const c = check();
    expect(fromTrayEvent(undefined, { ok: true, result: c })).toEqual({ check: c });
  });

  it('merges a bare status (with the tray’s summary) into the check shown', () => {
    const prev = check({ previous }, { action: 'up_to_date' });
    const st = { summary: 'Update available: 0.3.0', ...status({ offered: '0.3.0' }) };
    const r = fromTrayEvent(prev, { ok: true, result: st });
    expect(r && 'check' in r && r.check.previous).toEqual(previous);
    expect(r && 'check' in r && r.check.status?.offered).toBe('0.3.0');
    const fresh = fromTrayEvent(undefined, { ok: true, result: st });
    expect(fresh && 'check' in fresh && fresh.check.configured).toBe(true);
  });

  it('keeps the fields of the action (flat, as the gateway sends them)', () => {
    const st = { ...status(), action: 'below_minimum', minimum: '0.1.5' };
    const r = fromTrayEvent(undefined, { ok: true, result: st });
    expect(r && 'check' in r && r.check.status).toMatchObject({ action: 'below_minimum', minimum: '0.1.5' });
  });

  it('a failed tray check is an error with a code', () => {
    expect(fromTrayEvent(undefined, { ok: false, error: { code: 'update_check_failed', message: 'bad signature' } })).toEqual({
      error: { code: 'update_check_failed', message: 'bad signature' },
    });
    expect(fromTrayEvent(undefined, { ok: false, error: 'offline' })).toEqual({ error: { code: 'update_check_failed', message: 'offline' } });
  });

  it('ignores what it does not understand', () => {
    expect(fromTrayEvent(undefined, null)).toBeNull();
    expect(fromTrayEvent(undefined, { ok: true, result: { hello: 1 } })).toBeNull();
  });
});

describe('splitCode', () => {
  it('marks backticked parts as code', () => {
    expect(splitCode('or use `aigw update check --manifest-url URL`')).toEqual([
      { text: 'or use ', code: false },
      { text: 'aigw update check --manifest-url URL', code: true },
    ]);
    expect(splitCode('no code')).toEqual([{ text: 'no code', code: false }]);
    expect(splitCode('an ` unpaired one')).toEqual([{ text: 'an ` unpaired one', code: false }]);
  });
});

describe('keptFacts (after a failed check)', () => {
  const prevCheck: UpdateCheck = { app: 'aigw', version: '0.1.0', configured: true, previous: null, status: status() };
  it('takes what the gateway sent beside the error, with no offer', () => {
    const kept = keptFacts(
      {
        details: {
          app: 'aigw-desktop',
          version: '0.2.0',
          configured: true,
          restart_supported: true,
          previous: { version: '0.1.0', replaced_by: '0.2.0', saved_at: '2026-11-25T13:00:00Z' },
        },
      },
      prevCheck,
    );
    expect(kept?.status).toBeUndefined();
    expect(kept?.version).toBe('0.2.0');
    expect(kept?.restart_supported).toBe(true);
    expect(updateControls(kept, 'admin', false).rollback).toMatchObject({ shown: true, enabled: true, label: 'Roll back to 0.1.0' });
    expect(updateControls(kept, 'admin', false).install.shown).toBe(false);
  });
  it('otherwise keeps the last check without its offer', () => {
    expect(keptFacts({ details: {} }, prevCheck)).toEqual({ ...prevCheck, status: undefined });
    expect(keptFacts({ details: {} }, undefined)).toBeUndefined();
  });
});
