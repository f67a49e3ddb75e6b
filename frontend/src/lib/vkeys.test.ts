import { describe, expect, it } from 'vitest';
import { EMPTY_FORM, burnDown, burnTone, toNewKey } from './vkeys';

describe('the Keys page form', () => {
  it('turns the form into the create body', () => {
    const r = toNewKey({
      ...EMPTY_FORM,
      name: ' alice ',
      team: 'ml',
      models: 'gpt-5*, claude-*',
      rpm: '60',
      budget: '10',
      period: 'weekly',
      expiresDays: '30',
      tags: 'env=ci, cost-center=42',
    });
    expect(r.error).toBeUndefined();
    expect(r.body).toEqual({
      name: 'alice',
      team: 'ml',
      models: ['gpt-5*', 'claude-*'],
      rpm: 60,
      tpm: 0,
      budget_usd: 10,
      period: 'weekly',
      expires_in_s: 30 * 86400,
      tags: { env: 'ci', 'cost-center': '42' },
    });
  });

  it('names the first bad field', () => {
    expect(toNewKey(EMPTY_FORM).error).toBe('name');
    expect(toNewKey({ ...EMPTY_FORM, name: 'a', rpm: '1.5' }).error).toBe('rpm');
    expect(toNewKey({ ...EMPTY_FORM, name: 'a', budget: '-1' }).error).toBe('budget');
    expect(toNewKey({ ...EMPTY_FORM, name: 'a', tags: 'novalue' }).error).toBe('tags');
    expect(toNewKey({ ...EMPTY_FORM, name: 'a', expiresDays: '0' }).error).toBe('expiresDays');
  });

  it('burns a budget down', () => {
    expect(burnDown({ budget_usd: null, spent_usd: 3 })).toBeNull();
    expect(burnDown({ budget_usd: 10, spent_usd: 2.5 })).toBe(0.25);
    expect(burnDown({ budget_usd: 10, spent_usd: 12 })).toBe(1);
    expect(burnTone(0.25)).toBe('ok');
    expect(burnTone(0.85)).toBe('warn');
    expect(burnTone(1)).toBe('err');
  });
});
