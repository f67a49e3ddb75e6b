// One message catalogue for the whole UI: `t('key', { param })` looks the key
// up in the current locale (falling back to English), fills `{param}`
// placeholders, and the Intl helpers below format numbers and dates for the
// same locale. The locale comes from the switcher (saved in localStorage),
// else from navigator.language, else English. See docs/ui.md.
import { Fragment, createElement, type ReactNode } from 'react';
import { en, type MessageKey } from './en';
import { de } from './de';
import { es } from './es';
import { fr } from './fr';
import { ja } from './ja';
import { ko } from './ko';
import { zhCN } from './zh-CN';

export type { MessageKey } from './en';
export type Catalogue = Record<MessageKey, string>;

export const LOCALES = [
  { id: 'en', name: 'English' },
  { id: 'zh-CN', name: '简体中文' },
  { id: 'ja', name: '日本語' },
  { id: 'ko', name: '한국어' },
  { id: 'de', name: 'Deutsch' },
  { id: 'fr', name: 'Français' },
  { id: 'es', name: 'Español' },
] as const;
export type Locale = (typeof LOCALES)[number]['id'];

export const CATALOGUES: Record<Locale, Catalogue> = { en, 'zh-CN': zhCN, ja, ko, de, fr, es };

const STORAGE_KEY = 'aigw.locale';

/** The best supported locale for a BCP 47 tag (`de-AT` → `de`, `zh-Hans-CN` → `zh-CN`). */
export function matchLocale(tag: string | null | undefined): Locale | undefined {
  if (!tag) return undefined;
  const lower = tag.toLowerCase();
  const exact = LOCALES.find((l) => l.id.toLowerCase() === lower);
  if (exact) return exact.id;
  const lang = lower.split('-')[0];
  if (lang === 'zh') return 'zh-CN';
  return LOCALES.find((l) => l.id === lang)?.id;
}

function storage(): Storage | undefined {
  try {
    return typeof localStorage === 'undefined' ? undefined : localStorage;
  } catch {
    return undefined;
  }
}

function initialLocale(): Locale {
  const saved = matchLocale(storage()?.getItem(STORAGE_KEY));
  if (saved) return saved;
  if (typeof navigator !== 'undefined') {
    for (const l of navigator.languages ?? [navigator.language]) {
      const m = matchLocale(l);
      if (m) return m;
    }
  }
  return 'en';
}

let current: Locale = initialLocale();
const listeners = new Set<(l: Locale) => void>();

export function getLocale(): Locale {
  return current;
}

/** Switches the UI language, remembers it and tells the listeners (the app re-renders). */
export function setLocale(l: Locale): void {
  current = l;
  storage()?.setItem(STORAGE_KEY, l);
  if (typeof document !== 'undefined') document.documentElement.lang = l;
  for (const f of listeners) f(l);
}

export function onLocaleChange(f: (l: Locale) => void): () => void {
  listeners.add(f);
  return () => listeners.delete(f);
}

export type Params = Record<string, string | number>;

/** Fills `{name}` placeholders; an unknown placeholder stays as written. */
export function format(template: string, params?: Params): string {
  if (!params) return template;
  return template.replace(/\{(\w+)\}/g, (m, k: string) => (k in params ? String(params[k]) : m));
}

/** The message for `key` in the current locale (English when a locale lacks it). */
export function t(key: MessageKey, params?: Params): string {
  const msg = CATALOGUES[current][key] ?? en[key] ?? key;
  return format(msg, params);
}

/** Placeholder names in a message, sorted (for the catalogue tests). */
export function placeholders(msg: string): string[] {
  return [...msg.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
}

// ---- numbers and dates for the current locale --------------------------------

const cache = new Map<string, Intl.NumberFormat>();
export function numberFormat(opts: Intl.NumberFormatOptions): Intl.NumberFormat {
  const k = current + JSON.stringify(opts);
  let f = cache.get(k);
  if (!f) {
    f = new Intl.NumberFormat(current, opts);
    cache.set(k, f);
  }
  return f;
}

export function dateFormat(opts: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  return new Intl.DateTimeFormat(current, opts);
}

export function relativeTime(value: number, unit: Intl.RelativeTimeFormatUnit): string {
  return new Intl.RelativeTimeFormat(current, { numeric: 'auto' }).format(value, unit);
}

/**
 * Like `t`, for messages with elements in them (`{code}` → <code>…</code>):
 * returns the pieces to render, so a sentence stays one message.
 */
export function tn(key: MessageKey, params: Record<string, ReactNode>): ReactNode[] {
  const msg = CATALOGUES[current][key] ?? en[key] ?? key;
  return msg.split(/(\{\w+\})/).map((part, i) => {
    const m = /^\{(\w+)\}$/.exec(part);
    const v = m && m[1] in params ? params[m[1]] : part;
    return createElement(Fragment, { key: i }, v);
  });
}
