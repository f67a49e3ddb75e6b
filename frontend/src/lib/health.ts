// Provider/target health, and upstream attempts, in words and tones.
import type { AttemptInfo, HealthSnapshot, KeyPresence } from '../api/types';
import { fmtMs } from './format';

export type Tone = 'ok' | 'warn' | 'err' | 'neutral';

export function healthTone(h: HealthSnapshot): Tone {
  if (h.open) return 'err';
  if (h.consecutive_failures > 0) return 'warn';
  return 'ok';
}

export function healthText(h: HealthSnapshot): string {
  if (h.open) {
    const left = h.cooldown_remaining_ms ? ` for ${fmtMs(h.cooldown_remaining_ms)}` : '';
    return `cooling down${left}` + (h.last_error ? ` — ${h.last_error}` : '');
  }
  if (h.consecutive_failures > 0) {
    return `${h.consecutive_failures} failure${h.consecutive_failures > 1 ? 's' : ''} in a row` + (h.last_error ? ` — ${h.last_error}` : '');
  }
  if (h.ewma_latency_ms === null) return 'healthy';
  return `healthy · ${h.ewma_latency_ms < 1 ? '' : '~'}${fmtMs(h.ewma_latency_ms)}`;
}

/** The worst tone among a provider's targets (none → neutral). */
export function worstTone(hs: HealthSnapshot[]): Tone {
  const order: Tone[] = ['err', 'warn', 'ok'];
  for (const t of order) if (hs.some((h) => healthTone(h) === t)) return t;
  return 'neutral';
}

export function keyText(k: KeyPresence): { tone: Tone; text: string } {
  switch (k) {
    case 'present':
      return { tone: 'ok', text: 'key set' };
    case 'missing':
      return { tone: 'err', text: 'key missing' };
    default:
      return { tone: 'neutral', text: 'no key needed' };
  }
}

/** An upstream attempt served when it has a 2xx status and no error class. */
export function attemptTone(a: Pick<AttemptInfo, 'status' | 'error'>): 'ok' | 'err' {
  return a.status !== null && a.status >= 200 && a.status < 300 && !a.error ? 'ok' : 'err';
}
