// Pure helpers of the Keys page: the create form to the API's body, and a
// key's budget burn-down.
import type { NewVirtualKey, Period, VirtualKey } from '../api/vkeys';

export interface KeyForm {
  name: string;
  team: string;
  models: string;
  rpm: string;
  tpm: string;
  budget: string;
  period: Period;
  expiresDays: string;
  tags: string;
}

export const EMPTY_FORM: KeyForm = { name: '', team: '', models: '', rpm: '', tpm: '', budget: '', period: 'monthly', expiresDays: '', tags: '' };

const list = (s: string) =>
  s
    .split(/[,\n]/)
    .map((x) => x.trim())
    .filter(Boolean);

const num = (s: string) => (s.trim() === '' ? undefined : Number(s));

/** The form as the API's create body; `error` names the first bad field. */
export function toNewKey(f: KeyForm): { body?: NewVirtualKey; error?: keyof KeyForm } {
  if (!f.name.trim()) return { error: 'name' };
  const tags: Record<string, string> = {};
  for (const t of list(f.tags)) {
    const i = t.indexOf('=');
    if (i <= 0) return { error: 'tags' };
    tags[t.slice(0, i).trim()] = t.slice(i + 1).trim();
  }
  const rpm = num(f.rpm);
  const tpm = num(f.tpm);
  const budget = num(f.budget);
  const days = num(f.expiresDays);
  if (rpm !== undefined && !(Number.isInteger(rpm) && rpm >= 0)) return { error: 'rpm' };
  if (tpm !== undefined && !(Number.isInteger(tpm) && tpm >= 0)) return { error: 'tpm' };
  if (budget !== undefined && !(Number.isFinite(budget) && budget >= 0)) return { error: 'budget' };
  if (days !== undefined && !(Number.isFinite(days) && days > 0)) return { error: 'expiresDays' };
  return {
    body: {
      name: f.name.trim(),
      team: f.team.trim() || null,
      models: list(f.models),
      rpm: rpm ?? 0,
      tpm: tpm ?? 0,
      budget_usd: budget ?? null,
      period: f.period,
      expires_in_s: days === undefined ? null : Math.round(days * 86400),
      tags,
    },
  };
}

/** How much of the period's budget is spent (0–1, capped), or null without a budget. */
export function burnDown(k: Pick<VirtualKey, 'budget_usd' | 'spent_usd'>): number | null {
  if (k.budget_usd === null || k.budget_usd === undefined) return null;
  if (k.budget_usd <= 0) return 1;
  return Math.min(1, Math.max(0, k.spent_usd / k.budget_usd));
}

/** The tone of a burn-down bar. */
export function burnTone(share: number): 'ok' | 'warn' | 'err' {
  return share >= 1 ? 'err' : share >= 0.8 ? 'warn' : 'ok';
}
