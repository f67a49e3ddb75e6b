import { describe, expect, it } from 'vitest';
import { STRATEGIES, checkRoutes, forwardedModel, matchText, move, moveTo, newRoute, parsePattern, patternHint, patternMatches, routeFor, routeOps, stickyApplies, toEditable, toSpec, weightShares } from './routes';

const live = [
  { model: 'gpt-4o-mini', strategy: 'priority' as const, cooldown_s: 30, retries: 0, targets: [{ provider: 'primary', model: null, weight: 1 }, { provider: 'backup', model: 'llama-3.1-8b', weight: 1 }] },
  { model: 'embed', targets: [{ provider: 'primary' }] },
];

describe('route editing', () => {
  it('fills defaults for editing and writes a minimal spec back', () => {
    const e = live.map(toEditable);
    expect(e[1]).toEqual({ model: 'embed', strategy: 'priority', cooldown_s: 30, retries: 0, sticky: true, targets: [{ provider: 'primary', model: '', weight: 1 }] });
    expect(toSpec(e[0])).toEqual({
      model: 'gpt-4o-mini',
      targets: [{ provider: 'primary' }, { provider: 'backup', model: 'llama-3.1-8b' }],
    });
    const w = toSpec({ ...e[0], strategy: 'weighted' });
    expect(w.targets[0]).toEqual({ provider: 'primary', weight: 1 });
    expect(w.strategy).toBe('weighted');
    // only the fields that changed against the live route
    expect(toSpec({ ...e[0], cooldown_s: 20 }, e[0])).toEqual({ model: 'gpt-4o-mini', cooldown_s: 20, targets: toSpec(e[0]).targets });
    expect(toSpec({ ...e[0], cooldown_s: 30 }, { ...e[0], cooldown_s: 10 }).cooldown_s).toBe(30);
  });

  it('the cost strategy is offered, is sent when chosen and is not sticky', () => {
    expect(STRATEGIES.map((s) => s.id)).toEqual(['priority', 'weighted', 'latency', 'cost']);
    expect(stickyApplies('cost')).toBe(false);
    const before = [toEditable({ model: 'm', strategy: 'priority' as const, sticky: false, targets: [{ provider: 'a' }, { provider: 'b' }] })];
    const ops = routeOps(before, [{ ...before[0], strategy: 'cost' }]);
    expect(ops).toHaveLength(1);
    expect(ops[0]).toMatchObject({ op: 'upsert_route', route: { model: 'm', strategy: 'cost' } });
    expect((ops[0] as { route: { sticky?: boolean } }).route.sticky).toBeUndefined();
  });

  it('sticky sessions: shown as on by default, sent only when changed on weighted/latency routes', () => {
    const api = [
      { model: 'w', strategy: 'weighted' as const, sticky: true, targets: [{ provider: 'primary' }] },
      { model: 'l', strategy: 'latency' as const, sticky: false, targets: [{ provider: 'primary' }] },
      { model: 'p', strategy: 'priority' as const, sticky: false, targets: [{ provider: 'primary' }] },
    ];
    const before = api.map(toEditable);
    expect(before.map((r) => r.sticky)).toEqual([true, false, true]);
    expect(stickyApplies('weighted') && stickyApplies('latency') && !stickyApplies('priority')).toBe(true);
    // unchanged: nothing sent
    expect(routeOps(before, before)).toEqual([]);
    expect(toSpec(before[0], before[0]).sticky).toBeUndefined();
    // unticked: sticky false; ticked again: true (the server removes the key)
    const off = routeOps(before, [{ ...before[0], sticky: false }, before[1], before[2]]);
    expect(off).toEqual([{ op: 'upsert_route', route: { model: 'w', sticky: false, targets: [{ provider: 'primary', weight: 1 }] } }]);
    const on = routeOps(before, [before[0], { ...before[1], sticky: true }, before[2]]);
    expect(on).toHaveLength(1);
    expect(on[0]).toMatchObject({ route: { model: 'l', sticky: true } });
    // a priority route never sends it; switching to weighted sends the switch's state
    expect(toSpec({ ...before[2], sticky: false }, before[2]).sticky).toBeUndefined();
    expect(routeOps(before, [before[0], before[1], { ...before[2], sticky: false }])).toEqual([]);
    expect(toSpec({ ...before[2], strategy: 'weighted' }, before[2])).toMatchObject({ strategy: 'weighted', sticky: true });
    expect(toSpec({ ...before[2], strategy: 'latency', sticky: false }, before[2]).sticky).toBe(false);
    // a new route: off is sent, the default is not
    expect(toSpec({ ...newRoute('n', 'primary'), strategy: 'weighted', sticky: false }).sticky).toBe(false);
    expect(toSpec(newRoute('n', 'primary')).sticky).toBeUndefined();
  });

  it('moves targets up, down and by drag', () => {
    expect(move(['a', 'b', 'c'], 2, -1)).toEqual(['a', 'c', 'b']);
    expect(move(['a', 'b', 'c'], 0, -1)).toEqual(['a', 'b', 'c']);
    expect(moveTo(['a', 'b', 'c'], 0, 2)).toEqual(['b', 'c', 'a']);
    const l = ['a'];
    expect(moveTo(l, 0, 5)).toBe(l);
  });

  it('turns edits into ops: only what changed', () => {
    const before = live.map(toEditable);
    expect(routeOps(before, before.map((r) => ({ ...r })))).toEqual([]);
    const swapped = before.map((r, i) => (i === 0 ? { ...r, targets: moveTo(r.targets, 1, 0) } : r));
    const ops = routeOps(before, swapped);
    expect(ops).toHaveLength(1);
    expect(ops[0]).toMatchObject({ op: 'upsert_route', route: { model: 'gpt-4o-mini', targets: [{ provider: 'backup' }, { provider: 'primary' }] } });
  });

  it('a removed route is a removal, a rename is removal + upsert', () => {
    const before = live.map(toEditable);
    expect(routeOps(before, [before[0]])).toEqual([{ op: 'remove_route', model: 'embed' }]);
    const ops = routeOps(before, [before[0], { ...before[1], model: 'embeddings' }]);
    expect(ops.map((o) => o.op)).toEqual(['remove_route', 'upsert_route']);
  });

  it('checks routes locally with words', () => {
    const providers = ['primary', 'backup'];
    expect(checkRoutes(live.map(toEditable), providers)).toEqual([]);
    const bad = [
      { ...newRoute('dup', 'primary') },
      { ...newRoute('dup', 'ghost'), cooldown_s: -1 },
      { ...newRoute('', 'primary'), targets: [] },
      { ...newRoute('w', 'primary'), strategy: 'weighted' as const, targets: [{ provider: 'primary', model: '', weight: 0 }, { provider: 'primary', model: '', weight: 1 }] },
    ];
    const issues = checkRoutes(bad, providers);
    const msgs = issues.map((i) => `${i.route}:${i.target ?? '-'}:${i.field}`);
    expect(msgs).toEqual(expect.arrayContaining(['1:-:model', '1:0:provider', '1:-:cooldown_s', '2:-:model', '2:-:targets', '3:0:weight', '3:1:provider']));
    expect(issues.find((i) => i.route === 1 && i.field === 'model')?.message).toMatch(/already routed/);
    expect(issues.find((i) => i.field === 'provider' && i.route === 1)?.message).toBe('No provider named "ghost".');
  });

  it('computes weight shares', () => {
    const r = { ...newRoute('w', 'a'), strategy: 'weighted' as const, targets: [{ provider: 'a', model: '', weight: 3 }, { provider: 'b', model: '', weight: 1 }] };
    expect(weightShares(r)).toEqual([0.75, 0.25]);
    expect(weightShares({ ...r, strategy: 'priority' })).toEqual([null, null]);
  });
});

describe('profiles', () => {
  it('route ops carry the active profile', () => {
    const before = live.map(toEditable);
    const ops = routeOps(before, [before[0]], 'local-only');
    expect(ops).toEqual([{ op: 'remove_route', model: 'embed', profile: 'local-only' }]);
  });
});

describe('pattern routes', () => {
  const routes = [
    { model: '*' },
    { model: 'claude-*' },
    { model: 'claude-opus-4-8' },
    { model: 'claude-opus-*' },
    { model: 'gpt-5*' },
  ];

  it('picks the exact route, then the most specific pattern, * last', () => {
    expect(routeFor('claude-opus-4-8', routes)).toBe(2);
    expect(routeFor('claude-opus-5', routes)).toBe(3);
    expect(routeFor('claude-sonnet-5', routes)).toBe(1);
    expect(routeFor('claude-haiku-4-5-20251001', routes)).toBe(1);
    expect(routeFor('gpt-5-codex', routes)).toBe(4);
    expect(routeFor('llama3.1:8b', routes)).toBe(0);
    expect(routeFor('llama3.1:8b', routes.slice(1))).toBe(-1);
    expect(patternMatches(parsePattern('*-latest')!, 'x-latest')).toBe(true);
    expect(patternMatches(parsePattern('ab*ba')!, 'aba')).toBe(false);
    expect(parsePattern('gpt-4o')).toBeNull();
  });

  it('hints which client ids a pattern takes, given the other routes', () => {
    expect(patternHint(1, routes)).toBe('matches claude-sonnet-5, claude-haiku-4-5-20251001');
    expect(patternHint(4, routes)).toBe('matches gpt-5, gpt-5-codex');
    expect(patternHint(0, routes)).toBe('matches gemini-3-pro');
    expect(patternHint(0, [{ model: '*' }, { model: 'gemini-*' }], ['gemini-3-pro'])).toBe('matches every model no other route takes');
    expect(patternHint(0, [{ model: 'mistral-*' }])).toBe('matches names like mistral-…');
    expect(patternHint(2, routes)).toBeNull();
    expect(patternHint(0, [{ model: 'claude-*' }], ['claude-a', 'claude-b', 'claude-c', 'claude-d'])).toBe('matches claude-a, claude-b, claude-c, …');
  });

  it('substitutes {model} in a target model', () => {
    expect(forwardedModel('', 'claude-sonnet-5')).toBe('claude-sonnet-5');
    expect(forwardedModel('openrouter/{model}', 'claude-sonnet-5')).toBe('openrouter/claude-sonnet-5');
    expect(forwardedModel('llama3.1:8b', 'gpt-5')).toBe('llama3.1:8b');
  });

  it('checks patterns and templates locally as the server does', () => {
    const providers = ['primary'];
    const r = (model: string, target = '') => ({ ...newRoute(model, 'primary'), targets: [{ provider: 'primary', model: target, weight: 1 }] });
    expect(checkRoutes([r('claude-*'), r('gpt-5*', 'openrouter/{model}'), r('*')], providers)).toEqual([]);
    const msgs = (rs: ReturnType<typeof r>[]) => checkRoutes(rs, providers).map((i) => `${i.route}:${i.target ?? '-'}:${i.field}:${i.message}`);
    expect(msgs([r('a*x'), r('ab*')])).toEqual(['1:-:model:"a*x" and "ab*" are equally specific and can match the same name.']);
    expect(msgs([r('claude-*'), r('gemini-*')])).toEqual([]);
    expect(msgs([r('claude-*-*')])).toEqual(['0:-:model:A pattern has one *, e.g. claude-*, *-latest or *.']);
    expect(msgs([r('claude-*', '{modle}')])).toEqual(['0:0:model:The only placeholder is {model}, e.g. openrouter/{model}.']);
    expect(msgs([r('claude-*'), r('claude-*')])).toEqual(['1:-:model:"claude-*" is already routed above.']);
  });
});

describe('route preview', () => {
  it('says which route took a name and what each target forwards', () => {
    const targets = [
      { provider: 'anthropic', model: 'claude-opus-4-8', weight: 1 },
      { provider: 'openrouter', model: 'anthropic/claude-opus-4-8', weight: 1 },
    ];
    expect(matchText({ model: 'claude-opus-4-8', kind: 'pattern', route: 'claude-*', targets })).toBe(
      'claude-opus-4-8: pattern route claude-* → anthropic (claude-opus-4-8), then openrouter (anthropic/claude-opus-4-8)',
    );
    expect(matchText({ model: 'ollama/qwen', kind: 'provider', route: null, targets: [{ provider: 'ollama', model: 'qwen', weight: 1 }] })).toBe(
      'ollama/qwen: no route; provider prefix → ollama (qwen)',
    );
    expect(matchText({ model: 'nope', kind: null, route: null, targets: [] })).toContain('no route matches');
  });
});
