// Route editing: pure helpers the Routing page is built on (reorder, add,
// remove, local checks, and the ops that turn an edited list into a draft).
import type { DraftOp, RouteMatch, RouteSpec, Strategy, TargetSpec } from '../api/types';
import { t } from '../i18n';

export const STRATEGIES: { id: Strategy; label: string; help: string }[] = [
  { id: 'priority', get label() { return t('routes.priority'); }, get help() { return t('routes.priority_help'); } },
  { id: 'weighted', get label() { return t('routes.weighted'); }, get help() { return t('routes.weighted_help'); } },
  { id: 'latency', get label() { return t('routes.latency'); }, get help() { return t('routes.latency_help'); } },
  { id: 'cost', get label() { return t('routes.cost'); }, get help() { return t('routes.cost_help'); } },
];

export const DEFAULT_COOLDOWN_S = 30;

/** Strategies with sticky sessions (on unless the route says `sticky = false`). */
export function stickyApplies(s: Strategy): boolean {
  return s === 'weighted' || s === 'latency';
}

/** A route with every optional field filled, for editing. */
export interface EditableRoute {
  model: string;
  strategy: Strategy;
  cooldown_s: number;
  retries: number;
  /** Sticky sessions; only meaningful for weighted and latency routes. */
  sticky: boolean;
  targets: { provider: string; model: string; weight: number }[];
}

export function toEditable(r: RouteSpec): EditableRoute {
  return {
    model: r.model,
    strategy: r.strategy ?? 'priority',
    cooldown_s: r.cooldown_s ?? DEFAULT_COOLDOWN_S,
    retries: r.retries ?? 0,
    // A priority route's sticky is false in the API; the switch starts on
    // when the strategy changes to one that has it.
    sticky: stickyApplies(r.strategy ?? 'priority') ? (r.sticky ?? true) : true,
    targets: r.targets.map((t) => ({ provider: t.provider, model: t.model ?? '', weight: t.weight ?? 1 })),
  };
}

/**
 * The wire form. Empty target models are omitted and weights sent only where
 * they mean something. The server merges a route's scalar fields into its
 * table, so `strategy`, `cooldown_s` and `retries` are sent only when they
 * differ from `before` (or, for a new route, from the defaults): an edit
 * then touches only the lines it changes. Targets are always sent whole.
 * `sticky` is sent only for weighted/latency routes: `false` to turn sticky
 * sessions off, `true` (the default: the key is removed) when switched back
 * on or when the strategy just became weighted/latency.
 */
export function toSpec(r: EditableRoute, before?: EditableRoute | null): RouteSpec {
  const spec: RouteSpec = {
    model: r.model.trim(),
    targets: r.targets.map((t) => {
      const out: TargetSpec = { provider: t.provider };
      if (t.model.trim()) out.model = t.model.trim();
      if (r.strategy === 'weighted' || t.weight !== 1) out.weight = t.weight;
      return out;
    }),
  };
  const base = before ?? { strategy: 'priority', cooldown_s: DEFAULT_COOLDOWN_S, retries: 0, sticky: true };
  if (r.strategy !== base.strategy) spec.strategy = r.strategy;
  if (r.cooldown_s !== base.cooldown_s) spec.cooldown_s = r.cooldown_s;
  if (r.retries !== base.retries) spec.retries = r.retries;
  if (stickyApplies(r.strategy) && (r.sticky !== base.sticky || !stickyApplies(base.strategy))) spec.sticky = r.sticky;
  return spec;
}

/** Every field, for comparing two versions of a route. */
function fullSpec(r: EditableRoute): RouteSpec {
  return { ...toSpec(r), strategy: r.strategy, cooldown_s: r.cooldown_s, retries: r.retries, sticky: stickyApplies(r.strategy) ? r.sticky : undefined };
}

/** Moves item `i` by `delta` (−1 up, +1 down), or to index `to` with `moveTo`. */
export function move<T>(list: T[], i: number, delta: number): T[] {
  return moveTo(list, i, i + delta);
}

export function moveTo<T>(list: T[], from: number, to: number): T[] {
  if (from < 0 || from >= list.length || to < 0 || to >= list.length || from === to) return list;
  const out = list.slice();
  const [x] = out.splice(from, 1);
  out.splice(to, 0, x);
  return out;
}

export function newRoute(model: string, provider: string): EditableRoute {
  return { model, strategy: 'priority', cooldown_s: DEFAULT_COOLDOWN_S, retries: 0, sticky: true, targets: [{ provider, model: '', weight: 1 }] };
}

export interface RouteIssue {
  route: number;
  /** Target index, when the issue is about one target. */
  target?: number;
  field: string;
  message: string;
}

// Pattern routes: a model name with one `*` (`claude-*`, `gpt-5*`,
// `*-latest`, `*`) takes every name that starts with what comes before the
// `*` and ends with what comes after it. Precedence, as the gateway applies
// it: an exact route, then the pattern with the most literal characters,
// `*` last. A target's model may contain `{model}` (the requested name).

/** Model ids current clients send, for hints ("matches claude-opus-4-8, …"). */
export const CLIENT_MODEL_IDS = [
  'claude-opus-4-8',
  'claude-sonnet-5',
  'claude-haiku-4-5-20251001',
  'gpt-5',
  'gpt-5-codex',
  'gemini-3-pro',
];

export const MODEL_PLACEHOLDER = '{model}';

export interface Pattern {
  prefix: string;
  suffix: string;
}

/** The pattern in a route name, or null for an exact name (or one with two `*`). */
export function parsePattern(name: string): Pattern | null {
  const i = name.indexOf('*');
  if (i < 0 || name.indexOf('*', i + 1) >= 0) return null;
  return { prefix: name.slice(0, i), suffix: name.slice(i + 1) };
}

export function isPattern(name: string): boolean {
  return name.includes('*');
}

function specificity(p: Pattern): number {
  return p.prefix.length + p.suffix.length;
}

export function patternMatches(p: Pattern, model: string): boolean {
  return model.length >= specificity(p) && model.startsWith(p.prefix) && model.endsWith(p.suffix);
}

function overlaps(a: Pattern, b: Pattern): boolean {
  return (a.prefix.startsWith(b.prefix) || b.prefix.startsWith(a.prefix)) && (a.suffix.endsWith(b.suffix) || b.suffix.endsWith(a.suffix));
}

/** Index of the route `model` takes (exact, then most specific pattern), or -1. */
export function routeFor(model: string, routes: { model: string }[]): number {
  const names = routes.map((r) => r.model.trim());
  const exact = names.indexOf(model);
  if (exact >= 0) return exact;
  let best = -1;
  let bestLen = -1;
  names.forEach((n, i) => {
    const p = parsePattern(n);
    if (p && patternMatches(p, model) && specificity(p) > bestLen) {
      best = i;
      bestLen = specificity(p);
    }
  });
  return best;
}

/** The forwarded model for `requested`: as requested when empty, `{model}` substituted. */
export function forwardedModel(target: string, requested: string): string {
  const t = target.trim();
  if (!t) return requested;
  return t.split(MODEL_PLACEHOLDER).join(requested);
}

/**
 * What a pattern route takes, in words: the known names (client ids,
 * provider-listed models) it would serve given the other routes, e.g.
 * `matches claude-opus-4-8, claude-sonnet-5, …`. Null for an exact route.
 */
export function patternHint(index: number, routes: { model: string }[], known: string[] = CLIENT_MODEL_IDS): string | null {
  const name = routes[index]?.model.trim() ?? '';
  const p = parsePattern(name);
  if (!p) return null;
  const names = [...new Set(known)].filter((m) => !isPattern(m) && routeFor(m, routes) === index);
  const shown = names.slice(0, 3);
  const rest = names.length > shown.length ? ', …' : '';
  if (shown.length > 0) return t('routes.matches', { names: shown.join(', ') + rest });
  if (name === '*') return t('routes.matches_every');
  const example = `${p.prefix}…${p.suffix}`;
  return t('routes.matches_like', { example });
}

/** Local checks, instant while typing; the server's validation is the judge. */
export function checkRoutes(routes: EditableRoute[], providers: string[]): RouteIssue[] {
  const out: RouteIssue[] = [];
  const seen = new Map<string, number>();
  routes.forEach((r, ri) => {
    const m = r.model.trim();
    if (!m) out.push({ route: ri, field: 'model', message: t('routes.err_name') });
    else if (seen.has(m)) out.push({ route: ri, field: 'model', message: t('routes.err_dup', { model: m }) });
    else seen.set(m, ri);
    if ((m.match(/\*/g) ?? []).length > 1) {
      out.push({ route: ri, field: 'model', message: t('routes.err_pattern') });
    } else {
      const p = parsePattern(m);
      if (p) {
        routes.slice(0, ri).forEach((o) => {
          const q = parsePattern(o.model.trim());
          if (q && o.model.trim() !== m && specificity(q) === specificity(p) && overlaps(p, q)) {
            out.push({ route: ri, field: 'model', message: t('routes.err_overlap', { a: o.model.trim(), b: m }) });
          }
        });
      }
    }
    if (!Number.isInteger(r.cooldown_s) || r.cooldown_s < 0) out.push({ route: ri, field: 'cooldown_s', message: t('routes.err_cooldown') });
    if (!Number.isInteger(r.retries) || r.retries < 0 || r.retries > 10) out.push({ route: ri, field: 'retries', message: 'Retries: 0 to 10.' });
    if (r.targets.length === 0) out.push({ route: ri, field: 'targets', message: t('routes.err_no_target') });
    const pairs = new Set<string>();
    r.targets.forEach((tg, ti) => {
      if (!tg.provider) out.push({ route: ri, target: ti, field: 'provider', message: t('routes.err_pick_provider') });
      else if (!providers.includes(tg.provider)) out.push({ route: ri, target: ti, field: 'provider', message: t('routes.err_unknown_provider', { provider: tg.provider }) });
      const key = `${tg.provider}\u0000${tg.model.trim()}`;
      if (tg.provider && pairs.has(key)) out.push({ route: ri, target: ti, field: 'provider', message: t('routes.err_same_twice') });
      pairs.add(key);
      if (/[{}]/.test(tg.model.split(MODEL_PLACEHOLDER).join(''))) {
        out.push({ route: ri, target: ti, field: 'model', message: t('routes.err_placeholder') });
      }
      if (r.strategy === 'weighted' && (!Number.isFinite(tg.weight) || tg.weight <= 0)) {
        out.push({ route: ri, target: ti, field: 'weight', message: t('routes.err_weight') });
      }
    });
  });
  return out;
}

/**
 * The ops that turn `before` into `after` (by route model name): upserts for
 * new and changed routes, removals for the ones gone. A renamed route is a
 * removal plus an upsert. With `profile`, the ops edit that profile's routes.
 */
export function routeOps(before: EditableRoute[], after: EditableRoute[], profile?: string | null): DraftOp[] {
  const where = profile ? { profile } : {};
  const old = new Map(before.map((r) => [r.model.trim(), r]));
  const now = new Map(after.map((r) => [r.model.trim(), r]));
  const ops: DraftOp[] = [];
  for (const [model] of old) {
    if (!now.has(model)) ops.push({ op: 'remove_route', model, ...where });
  }
  for (const [model, r] of now) {
    const prev = old.get(model);
    if (!prev || JSON.stringify(fullSpec(prev)) !== JSON.stringify(fullSpec(r))) {
      ops.push({ op: 'upsert_route', route: toSpec(r, prev), ...where });
    }
  }
  return ops;
}

/** Share of traffic per target for a weighted route (0..1), else null. */
export function weightShares(r: EditableRoute): (number | null)[] {
  if (r.strategy !== 'weighted') return r.targets.map(() => null);
  const total = r.targets.reduce((s, t) => s + (t.weight > 0 ? t.weight : 0), 0);
  return r.targets.map((t) => (total > 0 && t.weight > 0 ? t.weight / total : 0));
}

/** The route preview's answer in words. */
export function matchText(m: RouteMatch): string {
  const targets = m.targets.map((tg) => `${tg.provider} (${tg.model ?? m.model})`).join(t('routes.then'));
  switch (m.kind) {
    case 'exact':
      return t('routes.match_exact', { model: m.model, route: m.route ?? '', targets });
    case 'pattern':
      return t('routes.match_pattern', { model: m.model, route: m.route ?? '', targets });
    case 'provider':
      return t('routes.match_provider', { model: m.model, targets });
    case 'catalog':
      return t('routes.match_catalog', { model: m.model, targets });
    default:
      return t('routes.match_none', { model: m.model });
  }
}
