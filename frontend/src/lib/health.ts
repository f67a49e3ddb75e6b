// Provider/target health, and upstream attempts, in words and tones.
import type { AttemptInfo, HealthSnapshot, KeyPresence } from '../api/types';
import { fmtMs } from './format';
import { t } from '../i18n';

export type Tone = 'ok' | 'warn' | 'err' | 'neutral';

export function healthTone(h: HealthSnapshot): Tone {
  if (h.open) return 'err';
  if (h.consecutive_failures > 0) return 'warn';
  return 'ok';
}

export function healthText(h: HealthSnapshot): string {
  if (h.open) {
    const left = h.cooldown_remaining_ms ? t('health.cooling_down_for', { time: fmtMs(h.cooldown_remaining_ms) }) : t('health.cooling_down');
    return left + (h.last_error ? ` — ${h.last_error}` : '');
  }
  if (h.consecutive_failures > 0) {
    return t(h.consecutive_failures > 1 ? 'health.n_failures' : 'health.one_failure', { n: h.consecutive_failures }) + (h.last_error ? ` — ${h.last_error}` : '');
  }
  if (h.ewma_latency_ms === null) return t('health.healthy');
  return t('health.healthy_latency', { latency: (h.ewma_latency_ms < 1 ? '' : '~') + fmtMs(h.ewma_latency_ms) });
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
      return { tone: 'ok', text: t('health.key_set') };
    case 'missing':
      return { tone: 'err', text: t('health.key_missing') };
    default:
      return { tone: 'neutral', text: t('health.no_key_needed') };
  }
}

/** An upstream attempt served when it has a 2xx status and no error class. */
export function attemptTone(a: Pick<AttemptInfo, 'status' | 'error'>): 'ok' | 'err' {
  return a.status !== null && a.status >= 200 && a.status < 300 && !a.error ? 'ok' : 'err';
}
