// Numbers, durations and times for people, in the UI's locale (src/i18n).
import { dateFormat, getLocale, numberFormat, t } from '../i18n';

const fixed = (n: number, digits: number) => numberFormat({ minimumFractionDigits: digits, maximumFractionDigits: digits }).format(n);

export function fmtNum(n: number | null | undefined, digits = 0): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  return numberFormat({ maximumFractionDigits: digits, minimumFractionDigits: 0 }).format(n);
}

/** 1234 → "1.2k", 2_500_000 → "2.5M". */
export function fmtCompact(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  const a = Math.abs(n);
  if (getLocale() !== 'en' && a >= 1e3) return numberFormat({ notation: 'compact', maximumFractionDigits: 1 }).format(n);
  if (a >= 1e9) return (n / 1e9).toFixed(1).replace(/\.0$/, '') + 'B';
  if (a >= 1e6) return (n / 1e6).toFixed(1).replace(/\.0$/, '') + 'M';
  if (a >= 1e4) return (n / 1e3).toFixed(0) + 'k';
  if (a >= 1e3) return (n / 1e3).toFixed(1).replace(/\.0$/, '') + 'k';
  return fmtNum(n, a < 10 ? 2 : a < 100 ? 1 : 0);
}

export function fmtMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 1) return '<1 ms';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${fixed(ms / 1000, ms < 10_000 ? 2 : 1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function fmtPct(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return '—';
  const p = ratio * 100;
  return (p === 0 ? '0' : p < 1 ? fixed(p, 2) : p < 10 ? fixed(p, 1) : fixed(p, 0)) + ' %';
}

export function fmtUsd(usd: number | null | undefined): string {
  if (usd === null || usd === undefined || !Number.isFinite(usd)) return '—';
  const money = (v: number, d: number) => numberFormat({ style: 'currency', currency: 'USD', minimumFractionDigits: d, maximumFractionDigits: d }).format(v);
  if (usd === 0) return money(0, 0);
  if (Math.abs(usd) < 0.000001) return '<' + money(0.000001, 6);
  if (Math.abs(usd) < 0.01) {
    const d = Math.min(6, 1 - Math.floor(Math.log10(Math.abs(usd))));
    return money(Number(usd.toPrecision(2)), d);
  }
  return money(usd, 2);
}

export function fmtDuration(s: number): string {
  if (s < 60) return `${Math.floor(s)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

export function fmtTime(ms: number): string {
  const d = new Date(ms);
  return dateFormat({ hour: '2-digit', minute: '2-digit', second: '2-digit' }).format(d);
}

export function fmtDateTime(ms: number): string {
  const d = new Date(ms);
  return dateFormat({ year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }).format(d);
}

/** "just now", "5 min ago", "3 h ago", then a date. */
export function fmtAgo(ms: number, now = Date.now()): string {
  const s = Math.max(0, (now - ms) / 1000);
  if (s < 45) return t('format.just_now');
  if (s < 3600) return t('format.min_ago', { n: Math.round(s / 60) });
  if (s < 86400) return t('format.h_ago', { n: Math.round(s / 3600) });
  return fmtDateTime(ms);
}

/** route_mode → words. */
export function routeModeLabel(mode: string | null | undefined): string {
  switch (mode) {
    case 'direct':
      return t('format.mode_direct');
    case 'provider_fallback':
      return t('format.mode_provider_fallback');
    case 'model_fallback':
      return t('format.mode_model_fallback');
    case 'cache':
      return t('format.mode_cache');
    default:
      return mode ?? '—';
  }
}
