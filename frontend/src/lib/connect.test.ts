import { describe, expect, it } from 'vitest';
import type { ClientInfo } from '../api/types';
import {
  changeKind,
  cursorSeen,
  cursorValues,
  diffLines,
  lastSeenText,
  modelChoices,
  modelMap,
  outcomeText,
  primaryAction,
  stateBadges,
  subscriptionCapable,
  unifiedDiff,
  v1Url,
} from './connect';

/** Applies a unified diff's +/space lines: the new file, to check the diff is right. */
function newSide(diff: string): string[] {
  return diff
    .split('\n')
    .filter((l) => !l.startsWith('---') && !l.startsWith('+++') && !l.startsWith('@@') && !l.startsWith('-'))
    .map((l) => l.slice(1));
}

describe('unifiedDiff', () => {
  it('shows a created file as all added lines from /dev/null', () => {
    const d = unifiedDiff('/h/.claude/settings.json', null, '{\n  "env": {}\n}\n');
    expect(d.split('\n')).toEqual(['--- /dev/null', '+++ /h/.claude/settings.json', '@@ -0,0 +1,3 @@', '+{', '+  "env": {}', '+}']);
  });

  it('shows a deleted file as all removed lines to /dev/null', () => {
    const d = unifiedDiff('/h/x.toml', 'a = 1\nb = 2\n', null);
    expect(d.split('\n')).toEqual(['--- /h/x.toml', '+++ /dev/null', '@@ -1,2 +0,0 @@', '-a = 1', '-b = 2']);
  });

  it('keeps unchanged lines as context and numbers the hunk', () => {
    const before = ['model = "o3"', '', '[mcp_servers.docs]', 'command = "docs"', '', '[desktop]', 'x = 1'].join('\n') + '\n';
    const after = ['model = "o3"', 'model_provider = "aigw"', '', '[mcp_servers.docs]', 'command = "docs"', '', '[desktop]', 'x = 1', '', '[model_providers.aigw]', 'name = "aigw"'].join('\n') + '\n';
    const d = unifiedDiff('config.toml', before, after, 1);
    const lines = d.split('\n');
    expect(lines[2]).toBe('@@ -1,2 +1,3 @@');
    expect(lines).toContain('+model_provider = "aigw"');
    expect(lines).toContain('+[model_providers.aigw]');
    expect(lines.filter((l) => l.startsWith('-') && !l.startsWith('---'))).toEqual([]);
    // two hunks: the far-apart changes are not merged with context 1
    expect(lines.filter((l) => l.startsWith('@@'))).toHaveLength(2);
    expect(lines.filter((l) => l.startsWith('@@'))[1]).toBe('@@ -7,1 +8,4 @@');
  });

  it('a changed line is a removal then an addition', () => {
    const d = unifiedDiff('f', 'a\nb\nc\n', 'a\nB\nc\n');
    expect(d.split('\n').slice(2)).toEqual(['@@ -1,3 +1,3 @@', ' a', '-b', '+B', ' c']);
    expect(newSide(d)).toEqual(['a', 'B', 'c']);
  });

  it('is empty when nothing changes, and says so when only the final newline does', () => {
    expect(unifiedDiff('f', 'a\n', 'a\n')).toBe('');
    expect(unifiedDiff('f', null, null)).toBe('');
    expect(unifiedDiff('f', 'a', 'a\n')).toContain('only the newline at the end');
  });

  it('reproduces the new file from its context and added lines', () => {
    const a = Array.from({ length: 60 }, (_, i) => `line ${i}`);
    const b = [...a];
    b.splice(10, 2, 'changed 10');
    b.splice(40, 0, 'inserted', 'inserted again');
    b.push('appended');
    const d = unifiedDiff('f', a.join('\n') + '\n', b.join('\n') + '\n', 1000);
    expect(newSide(d)).toEqual(b);
  });

  it('falls back to one replaced block past the size cap', () => {
    const a = Array.from({ length: 2100 }, (_, i) => `a${i}`);
    const b = Array.from({ length: 2100 }, (_, i) => `b${i}`);
    const ops = diffLines(a, b);
    expect(ops.slice(0, 2100).every((o) => o.k === '-')).toBe(true);
    expect(ops.slice(2100).every((o) => o.k === '+')).toBe(true);
  });
});

describe('changeKind', () => {
  it('names what happens to a file', () => {
    expect(changeKind({ path: 'p', before: null, after: 'x', mode: '0600' })).toBe('created');
    expect(changeKind({ path: 'p', before: 'x', after: null, mode: null })).toBe('deleted');
    expect(changeKind({ path: 'p', before: 'x', after: 'y', mode: null })).toBe('changed');
    expect(changeKind({ path: 'p', before: 'x', after: 'x', mode: null })).toBe('unchanged');
  });
});

const tool = (over: Partial<ClientInfo>): ClientInfo => ({
  name: 'claude-code',
  label: 'Claude Code',
  installed: true,
  connected: false,
  drifted: false,
  connectable: true,
  files: ['/h/.claude/settings.json'],
  note: null,
  last_seen: null,
  ...over,
});

describe('tool state', () => {
  it('badges: installed or not found, connected, edited since, guided', () => {
    expect(stateBadges(tool({})).map((b) => b.text)).toEqual(['Installed', 'Not connected']);
    expect(stateBadges(tool({ installed: false, connected: true, drifted: true })).map((b) => b.text)).toEqual(['Not found', 'Connected', 'Edited since']);
    expect(stateBadges(tool({ name: 'cursor', connectable: false })).map((b) => b.text)).toEqual(['Installed', 'Guided']);
    expect(stateBadges(tool({ name: 'gemini-cli', connectable: false })).map((b) => b.text)).toEqual(['Installed', 'Not connectable yet']);
    expect(stateBadges(tool({ drifted: true, connected: true })).find((b) => b.text === 'Edited since')?.tone).toBe('warn');
  });

  it('the action a card offers', () => {
    expect(primaryAction(tool({}))).toBe('connect');
    expect(primaryAction(tool({ connected: true }))).toBe('disconnect');
    expect(primaryAction(tool({ connected: true, drifted: true }))).toBe('reconnect');
    expect(primaryAction(tool({ connectable: false }))).toBe(null);
    // connected earlier (e.g. by hand through the CLI), not connectable now: it can still be undone
    expect(primaryAction(tool({ connectable: false, connected: true }))).toBe('disconnect');
  });

  it('last seen in words', () => {
    const now = Date.parse('2026-12-04T22:00:00Z');
    expect(lastSeenText(null, now)).toBe('No request seen yet');
    expect(lastSeenText('not a time', now)).toBe('No request seen yet');
    expect(lastSeenText('2026-12-04T21:55:00Z', now)).toBe('Last request 5 min ago');
    expect(lastSeenText('2026-12-04T21:59:50+00:00', now)).toBe('Last request just now');
  });

  it('outcomes say how the files were restored, once', () => {
    const o = { name: 'codex', connected: false, files: ['/h/.codex/config.toml'], warnings: [], message: 'done' };
    expect(outcomeText({ ...o, restored: 'byte-exact' }, false)).toEqual({ lead: 'Restored byte for byte.', text: 'done', done: true });
    expect(outcomeText({ ...o, restored: 'merged' }, false).lead).toMatch(/^Merged: .*your edits kept/);
    expect(outcomeText({ ...o, restored: 'removed' }, false).lead).toMatch(/^Removed/);
    expect(outcomeText({ ...o, restored: 'nothing' }, false).lead).toBe('Nothing to restore.');
    expect(outcomeText({ ...o, restored: 'later-kind' }, false).lead).toBe('Restored (later-kind).');
    // the gateway's message says it already: no lead repeating it
    expect(outcomeText({ ...o, restored: 'byte-exact', message: '/h/.codex/config.toml restored byte for byte' }, false)).toEqual({ lead: '', text: '/h/.codex/config.toml restored byte for byte', done: true });
    expect(outcomeText({ ...o, restored: 'merged', message: 'x was edited since aigw connected it: only aigw\'s keys were taken out, your edits kept' }, false).lead).toBe('');
    expect(outcomeText({ ...o, restored: null, connected: true, message: ' Codex CLI now points at http://h:1 ' }, true)).toEqual({ lead: 'Connected.', text: 'Codex CLI now points at http://h:1', done: true });
    // a connect that wrote nothing (the file already points at the gateway by hand)
    expect(outcomeText({ ...o, restored: null, connected: false, message: 'nothing written' }, true)).toMatchObject({ lead: 'Not connected.', done: false });
  });
});

describe('models', () => {
  it('choices are the exact route names, sorted, without patterns', () => {
    expect(modelChoices([{ model: 'gpt-4o' }, { model: 'claude-*' }, { model: 'claude-sonnet-5' }, { model: '*' }, { model: 'gpt-4o' }])).toEqual(['claude-sonnet-5', 'gpt-4o']);
    expect(modelChoices(undefined)).toEqual([]);
  });

  it('the map has the chosen slots only', () => {
    expect(modelMap({})).toBeUndefined();
    expect(modelMap({ model: ' ', opus: '' })).toBeUndefined();
    // only the gateway's ModelMap fields (it refuses unknown ones)
    expect(modelMap({ model: 'claude-sonnet-5', haiku: 'gpt-4o-mini ', default: 'x' })).toEqual({ model: 'claude-sonnet-5', haiku: 'gpt-4o-mini' });
  });
});

describe('Cursor', () => {
  it('pastes the /v1 URL whatever form the gateway URL has', () => {
    expect(v1Url('http://127.0.0.1:4000')).toBe('http://127.0.0.1:4000/v1');
    expect(v1Url('http://127.0.0.1:4000/')).toBe('http://127.0.0.1:4000/v1');
    expect(v1Url('http://127.0.0.1:4000/v1')).toBe('http://127.0.0.1:4000/v1');
    expect(cursorValues('http://h:1', 'local', 'gpt-4o').map((v) => v.value)).toEqual(['http://h:1/v1', 'local', 'gpt-4o']);
  });

  it('says when a request was seen, and whether since the check started', () => {
    const since = Date.parse('2026-12-04T22:00:00Z');
    expect(cursorSeen(null, since)).toMatchObject({ seen: false, fresh: false });
    const later = cursorSeen('2026-12-04T22:00:05Z', since);
    expect(later).toMatchObject({ seen: true, fresh: true });
    expect(later.text).toMatch(/^We saw a request from Cursor at /);
    const earlier = cursorSeen('2026-12-04T21:00:00Z', since);
    expect(earlier).toMatchObject({ seen: true, fresh: false });
    expect(earlier.text).toMatch(/before this page was opened/);
  });
});

describe('subscriptionCapable', () => {
  it('is the tools with a login of their own', () => {
    expect(['claude-code', 'codex', 'opencode', 'continue', 'cursor'].filter(subscriptionCapable)).toEqual(['claude-code', 'codex']);
  });
});
