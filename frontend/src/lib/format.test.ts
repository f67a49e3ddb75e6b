import { describe, expect, it } from 'vitest';
import { fmtAgo, fmtCompact, fmtMs, fmtPct, fmtUsd, routeModeLabel } from './format';
import { attemptTone, healthText, healthTone, keyText, worstTone } from './health';
import { snippets } from './snippets';
import { profileNames } from './profiles';

describe('formatting', () => {
  it('durations, rates, money', () => {
    expect(fmtMs(null)).toBe('—');
    expect(fmtMs(0.4)).toBe('<1 ms');
    expect(fmtMs(245.6)).toBe('246 ms');
    expect(fmtMs(1530)).toBe('1.53 s');
    expect(fmtPct(0)).toBe('0 %');
    expect(fmtPct(0.004)).toBe('0.40 %');
    expect(fmtPct(0.25)).toBe('25 %');
    expect(fmtUsd(0.00012)).toBe('$0.00012');
    expect(fmtUsd(0.0000123)).toBe('$0.000012');
    expect(fmtUsd(0.004)).toBe('$0.0040');
    expect(fmtUsd(1e-9)).toBe('<$0.000001');
    expect(fmtUsd(1.5)).toBe('$1.50');
    expect(fmtCompact(1234)).toBe('1.2k');
    expect(fmtCompact(2_500_000)).toBe('2.5M');
    expect(fmtAgo(1000, 20_000)).toBe('just now');
    expect(fmtAgo(0, 600_000)).toBe('10 min ago');
    expect(routeModeLabel('model_fallback')).toBe('model fallback');
  });

  it('health in words', () => {
    const h = { open: true, consecutive_failures: 3, cooldown_remaining_ms: 12_000, ewma_latency_ms: null, last_error: 'HTTP 429' };
    expect(healthTone(h)).toBe('err');
    expect(healthText(h)).toBe('cooling down for 12.0 s — HTTP 429');
    const ok = { ...h, open: false, consecutive_failures: 0, ewma_latency_ms: 80 };
    expect(healthText(ok)).toBe('healthy · ~80 ms');
    expect(worstTone([ok, { ...ok, consecutive_failures: 1 }])).toBe('warn');
    expect(worstTone([])).toBe('neutral');
    expect(keyText('missing').tone).toBe('err');
  });

  it('attempts: served only with a 2xx status and no error class', () => {
    expect(attemptTone({ status: 200, error: null })).toBe('ok');
    expect(attemptTone({ status: 503, error: 'upstream_5xx' })).toBe('err');
    expect(attemptTone({ status: 400, error: 'client_error' })).toBe('err');
    expect(attemptTone({ status: null, error: 'timeout' })).toBe('err');
    expect(attemptTone({ status: null, error: null })).toBe('err');
  });

  it('snippets point every client at the endpoint', () => {
    const all = snippets('http://127.0.0.1:4000/v1', 'gpt-4o-mini');
    expect(all.map((s) => s.id)).toEqual(expect.arrayContaining(['python', 'node', 'curl', 'cursor', 'continue', 'codex', 'aider']));
    for (const s of all) expect(s.code).toContain(s.id === 'claude' ? 'ANTHROPIC_BASE_URL=http://127.0.0.1:4000 ' : 'http://127.0.0.1:4000/v1');
  });

  it('profile names from any shape', () => {
    expect(profileNames(['a', 'b'])).toEqual(['a', 'b']);
    expect(profileNames({ cheap: {}, local: {} })).toEqual(['cheap', 'local']);
    expect(profileNames([{ name: 'x' }, 3])).toEqual(['x']);
    expect(profileNames(null)).toEqual([]);
  });
});
