import { describe, expect, it } from 'vitest';
import { checkRoutes, move, moveTo, newRoute, routeOps, toEditable, toSpec, weightShares } from './routes';

const live = [
  { model: 'gpt-4o-mini', strategy: 'priority' as const, cooldown_s: 30, retries: 0, targets: [{ provider: 'primary', model: null, weight: 1 }, { provider: 'backup', model: 'llama-3.1-8b', weight: 1 }] },
  { model: 'embed', targets: [{ provider: 'primary' }] },
];

describe('route editing', () => {
  it('fills defaults for editing and writes a minimal spec back', () => {
    const e = live.map(toEditable);
    expect(e[1]).toEqual({ model: 'embed', strategy: 'priority', cooldown_s: 30, retries: 0, targets: [{ provider: 'primary', model: '', weight: 1 }] });
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
