// The Connect tools page's logic, as pure functions: a unified diff of what a
// connect writes (from each file's before/after), the state badges of a
// tool, what a disconnect restored in words, the optional model map for
// Claude Code, Cursor's values to paste and the "we saw a request" check.
import type { ClientInfo, ClientOutcome, FileChange, ModelMap, RouteInfo } from '../api/types';
import { fmtAgo, fmtTime } from './format';
import { t } from '../i18n';

// ---- diff --------------------------------------------------------------------

/** Lines compared with the quadratic diff at most (beyond: one replaced block). */
export const DIFF_MAX_CELLS = 4_000_000;

type Op = { k: ' ' | '-' | '+'; line: string };

function splitLines(text: string | null): string[] {
  if (text === null || text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** The edit script from `a` to `b` (longest common subsequence). */
export function diffLines(a: string[], b: string[]): Op[] {
  // Common head and tail first: config edits usually touch a few lines.
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const ops: Op[] = a.slice(0, head).map((line) => ({ k: ' ', line }));
  const am = a.slice(head, a.length - tail);
  const bm = b.slice(head, b.length - tail);
  const n = am.length;
  const m = bm.length;
  if (n * m > DIFF_MAX_CELLS) {
    am.forEach((line) => ops.push({ k: '-', line }));
    bm.forEach((line) => ops.push({ k: '+', line }));
  } else {
    // lcs[i][j]: the LCS length of am[i..] and bm[j..], in one flat array.
    const w = m + 1;
    const lcs = new Uint32Array((n + 1) * w);
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        lcs[i * w + j] = am[i] === bm[j] ? lcs[(i + 1) * w + j + 1] + 1 : Math.max(lcs[(i + 1) * w + j], lcs[i * w + j + 1]);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && am[i] === bm[j]) {
        ops.push({ k: ' ', line: am[i] });
        i++;
        j++;
      } else if (i < n && (j === m || lcs[(i + 1) * w + j] >= lcs[i * w + j + 1])) {
        // Removals before additions, as diff(1) prints them.
        ops.push({ k: '-', line: am[i++] });
      } else {
        ops.push({ k: '+', line: bm[j++] });
      }
    }
  }
  a.slice(a.length - tail).forEach((line) => ops.push({ k: ' ', line }));
  return ops;
}

/**
 * A unified diff of one file (`before: null` = created, `after: null` =
 * deleted), `context` lines around each change; "" when nothing changes.
 */
export function unifiedDiff(path: string, before: string | null, after: string | null, context = 3): string {
  if (before === after) return '';
  const ops = diffLines(splitLines(before), splitLines(after));
  const changed = ops.map((o, i) => (o.k === ' ' ? -1 : i)).filter((i) => i >= 0);
  const out = [before === null ? '--- /dev/null' : `--- ${path}`, after === null ? '+++ /dev/null' : `+++ ${path}`];
  if (changed.length === 0) {
    // Same lines, different bytes: only the final newline differs.
    out.push('@@ only the newline at the end of the file changes @@');
    return out.join('\n');
  }
  // Group changes into hunks whose context overlaps.
  const hunks: [number, number][] = [];
  for (const i of changed) {
    const last = hunks[hunks.length - 1];
    if (last && i - last[1] <= 2 * context) last[1] = i;
    else hunks.push([i, i]);
  }
  // Line numbers before each op, in the old and the new file.
  const oldNo: number[] = [];
  const newNo: number[] = [];
  let o = 1;
  let nn = 1;
  for (const op of ops) {
    oldNo.push(o);
    newNo.push(nn);
    if (op.k !== '+') o++;
    if (op.k !== '-') nn++;
  }
  for (const [first, last] of hunks) {
    const from = Math.max(0, first - context);
    const to = Math.min(ops.length - 1, last + context);
    const slice = ops.slice(from, to + 1);
    const oldLen = slice.filter((x) => x.k !== '+').length;
    const newLen = slice.filter((x) => x.k !== '-').length;
    const oldStart = oldLen === 0 ? oldNo[from] - 1 : oldNo[from];
    const newStart = newLen === 0 ? newNo[from] - 1 : newNo[from];
    out.push(`@@ -${oldStart},${oldLen} +${newStart},${newLen} @@`);
    for (const x of slice) out.push(x.k + x.line);
  }
  return out.join('\n');
}

/** What happens to a file, in a word. */
export function changeKind(f: FileChange): 'created' | 'deleted' | 'changed' | 'unchanged' {
  if (f.before === f.after) return 'unchanged';
  if (f.before === null) return 'created';
  if (f.after === null) return 'deleted';
  return 'changed';
}

// ---- state -------------------------------------------------------------------

export type Tone = 'ok' | 'warn' | 'err' | 'neutral' | 'info';

export interface StateBadge {
  tone: Tone;
  text: string;
  title?: string;
}

/** The badges on a tool's card: installed, connected, drifted, guided. */
export function stateBadges(c: ClientInfo): StateBadge[] {
  const b: StateBadge[] = [];
  b.push(c.installed ? { tone: 'ok', text: t('connect.badge_installed') } : { tone: 'neutral', text: t('connect.badge_not_found'), title: t('connect.badge_not_found_title') });
  if (c.connected) b.push({ tone: 'ok', text: t('connect.badge_connected') });
  else if (c.connectable) b.push({ tone: 'neutral', text: t('connect.not_connected') });
  if (c.drifted) b.push({ tone: 'warn', text: t('connect.badge_edited'), title: t('connect.badge_edited_title') });
  if (!c.connectable) b.push({ tone: 'info', text: c.name === 'cursor' ? 'Guided' : 'Not connectable yet' });
  return b;
}

/** The primary action a card offers (admins only). */
export function primaryAction(c: ClientInfo): 'connect' | 'reconnect' | 'disconnect' | null {
  if (!c.connectable) return c.connected ? 'disconnect' : null;
  if (c.connected && c.drifted) return 'reconnect';
  return c.connected ? 'disconnect' : 'connect';
}

/** "Last request 5 min ago" or "No request seen yet". */
export function lastSeenText(lastSeen: string | null, now = Date.now()): string {
  const ts = parseTime(lastSeen);
  return ts === null ? t('connect.no_request_seen') : t('connect.last_request', { ago: fmtAgo(ts, now) });
}

export function parseTime(iso: string | null | undefined): number | null {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t : null;
}

/**
 * A connect's or disconnect's result: a short lead (how the files were
 * restored) and the gateway's own message, and whether it did what was
 * asked (a connect can decline, e.g. a file pointed at the gateway by hand).
 */
export function outcomeText(o: ClientOutcome, connecting: boolean): { lead: string; text: string; done: boolean } {
  // [what the lead says, words that mean the gateway's message says it already]
  const leads: Record<string, [string, string]> = {
    'byte-exact': ['Restored byte for byte.', 'byte for byte'],
    merged: ['Merged: the file was edited after connecting, so only the gateway’s settings were taken out and your edits kept.', 'edits kept'],
    removed: ['Removed: connecting had created the file.', 'removed'],
    nothing: ['Nothing to restore.', 'nothing'],
  };
  const done = o.connected === connecting;
  const text = o.message.trim();
  let lead: string;
  if (o.restored) {
    const [words, said] = leads[o.restored] ?? [`Restored (${o.restored}).`, '\u0000'];
    lead = text.toLowerCase().includes(said) ? '' : words;
  } else {
    lead = connecting ? (done ? 'Connected.' : 'Not connected.') : 'Disconnected.';
  }
  return { lead, text, done };
}

// ---- models ------------------------------------------------------------------

/** Claude Code's model slots, in the order its settings list them. */
export const CLAUDE_SLOTS = [
  { id: 'model', label: 'Default model', hint: 'ANTHROPIC_MODEL' },
  { id: 'opus', label: 'Opus', hint: 'ANTHROPIC_DEFAULT_OPUS_MODEL' },
  { id: 'sonnet', label: 'Sonnet', hint: 'ANTHROPIC_DEFAULT_SONNET_MODEL' },
  { id: 'haiku', label: 'Haiku', hint: 'ANTHROPIC_DEFAULT_HAIKU_MODEL' },
] as const;

/**
 * Model names a tool can be pointed at: the gateway's exact routes (a
 * pattern such as `claude-*` is no name to send), sorted.
 */
export function modelChoices(routes: Pick<RouteInfo, 'model'>[] | undefined): string[] {
  if (!routes) return [];
  return [...new Set(routes.map((r) => r.model).filter((m) => m && !m.includes('*')))].sort();
}

/** The chosen slots only; `undefined` when none is set (the tool's own defaults). */
export function modelMap(sel: Record<string, string>): ModelMap | undefined {
  const out: ModelMap = {};
  for (const s of CLAUDE_SLOTS) {
    const v = sel[s.id]?.trim();
    if (v) out[s.id] = v;
  }
  return Object.keys(out).length ? out : undefined;
}

// ---- Cursor and launchers ----------------------------------------------------

/** The gateway's OpenAI base URL (`…/v1`) from its root or `/v1` URL. */
export function v1Url(gateway: string): string {
  return gateway.replace(/\/+$/, '').replace(/\/v1$/, '') + '/v1';
}

export interface PasteValue {
  label: string;
  /** Where it goes in Cursor's settings. */
  where: string;
  value: string;
}

/** What to paste into Cursor → Settings → Models. */
export function cursorValues(gateway: string, key: string, model: string): PasteValue[] {
  return [
    { label: t('providers.base_url'), where: 'Override OpenAI Base URL', value: v1Url(gateway) },
    { label: t('providers.api_key'), where: 'OpenAI API Key', value: key },
    { label: t('telemetry.model'), where: t('connect.cursor_add_model'), value: model },
  ];
}

/** The Cursor check: has a request been seen, and since the check started? */
export function cursorSeen(lastSeen: string | null, since: number): { seen: boolean; fresh: boolean; text: string } {
  const ts = parseTime(lastSeen);
  if (ts === null) return { seen: false, fresh: false, text: t('connect.cursor_no_request') };
  const fresh = ts >= since;
  return { seen: true, fresh, text: t(fresh ? 'connect.cursor_seen' : 'connect.cursor_seen_before', { time: fmtTime(ts) }) };
}

/** Commands that start a tool pointed at the gateway without editing its files. */
export const LAUNCHERS = [
  { tool: 'Claude Code', command: 'aigw run claude' },
  { tool: 'Codex CLI', command: 'aigw run codex' },
];

/** The tools with a login of their own that subscription mode keeps (Claude Code, Codex). */
export function subscriptionCapable(name: string): boolean {
  return name === 'claude-code' || name === 'codex';
}
