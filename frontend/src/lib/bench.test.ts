import { describe, expect, it } from 'vitest';
import type { BenchReport, BenchRun } from '../api/types';
import { buildSpec, defaultForm, errorsText, latencyChart, paddedRange, parseBody } from './bench';

const rep = (provider: string, model: string, p50: number | null, over: Partial<BenchReport> = {}): BenchReport => ({
  provider,
  model,
  protocol: 'chat',
  stream: false,
  sent: 2,
  ok: 2,
  success_rate: 1,
  latency_ms: p50 === null ? null : { p50, p95: p50 * 2, p99: p50 * 3 },
  ttft_ms: null,
  tokens_per_s: null,
  errors: {},
  cost_usd: 0,
  ...over,
});
const run = (id: number, started_ms: number, reports: BenchReport[]): BenchRun => ({
  id,
  started_ms,
  finished_ms: started_ms + 1000,
  source: 'ui',
  spec: { targets: [], protocols: ['chat'], stream: [false], requests: 2, concurrency: 2, max_cost_usd: 0.05 },
  reports,
  spent_usd: 0,
  stopped_by_cost_cap: false,
});

describe('buildSpec', () => {
  it('builds the default spec from the form', () => {
    const f = defaultForm('primary');
    f.targets[0].model = ' gpt-4o-mini ';
    expect(buildSpec(f)).toEqual({
      spec: {
        targets: [{ provider: 'primary', model: 'gpt-4o-mini' }],
        protocols: ['chat'],
        stream: [false],
        requests: 3,
        concurrency: 2,
        max_cost_usd: 0.05,
      },
      problems: [],
    });
  });
  it('keeps protocol order, both stream modes, skips blank rows', () => {
    const f = defaultForm('a');
    f.targets = [{ provider: 'a', model: 'm1' }, { provider: '', model: '' }, { provider: 'b', model: 'm2' }];
    f.protocols = { chat: false, messages: true, responses: true };
    f.stream = true;
    const r = buildSpec(f);
    expect(r.spec?.targets.length).toBe(2);
    expect(r.spec?.protocols).toEqual(['messages', 'responses']);
    expect(r.spec?.stream).toEqual([false, true]);
  });
  it('explains what is missing', () => {
    const f = defaultForm('');
    f.protocols = { chat: false, messages: false, responses: false };
    f.nonStream = false;
    f.concurrency = '40';
    f.maxCost = 'x';
    const r = buildSpec(f);
    expect(r.spec).toBeNull();
    expect(r.problems).toEqual([
      'Add at least one target (provider and model).',
      'Pick at least one protocol.',
      'Pick non-stream, stream or both.',
      'Concurrency must be a whole number from 1 to 16.',
      'Max cost must be a number of USD, 0 or more.',
    ]);
    const g = defaultForm('p');
    expect(buildSpec(g).problems).toEqual(['Type a model for provider p.']);
  });
});

describe('latencyChart', () => {
  it('one line per target from non-stream chat reports, runs in time order', () => {
    const runs = [
      run(2, 20_000, [rep('b', 'y', 30), rep('a', 'x', 12)]),
      run(1, 10_000, [rep('a', 'x', 10), rep('a', 'x', 99, { stream: true }), rep('a', 'x', 77, { protocol: 'messages' })]),
    ];
    const m = latencyChart(runs);
    expect(m.labels).toEqual(['a:x', 'b:y']);
    expect(m.data).toEqual([
      [10, 20],
      [10, 12],
      [null, 30],
    ]);
    expect(m.empty).toBe(false);
  });
  it('is empty without runs or without answered requests', () => {
    expect(latencyChart([]).empty).toBe(true);
    expect(latencyChart([run(1, 1000, [rep('a', 'x', null)])]).empty).toBe(true);
  });
});

describe('errorsText and parseBody', () => {
  it('words errors by class', () => {
    expect(errorsText({})).toBe('—');
    expect(errorsText({ timeout: 2, http_5xx: 1, x: 0 })).toBe('timeout ×2, http_5xx ×1');
  });
  it('parses a pasted body or says why not', () => {
    expect(parseBody('{"model":"m"}')).toEqual({ body: { model: 'm' } });
    expect(parseBody('  ')).toEqual({ error: 'Paste the request body (JSON) first.' });
    expect('error' in parseBody('[1]')).toBe(true);
    expect((parseBody('{oops') as { error: string }).error).toMatch(/^That is not valid JSON/);
  });
});

describe('paddedRange', () => {
  it('pads one run by an hour, a long span by a tenth', () => {
    expect(paddedRange([])).toBeUndefined();
    expect(paddedRange([10_000])).toEqual([6400, 13_600]);
    expect(paddedRange([0, 100_000])).toEqual([-10_000, 110_000]);
  });
});
