import { describe, expect, it } from 'vitest';
import { en, type MessageKey } from './en';
import { CATALOGUES, LOCALES, format, matchLocale, placeholders, t, tn, getLocale, setLocale } from '.';

const keys = Object.keys(en) as MessageKey[];

describe('message catalogues', () => {
  it('every locale has exactly the English keys, each a non-empty string', () => {
    for (const { id } of LOCALES) {
      const cat = CATALOGUES[id];
      expect(Object.keys(cat).sort(), id).toEqual([...keys].sort());
      for (const k of keys) expect(typeof cat[k] === 'string' && cat[k].trim() !== '', `${id} ${k}`).toBe(true);
    }
  });

  it('every translation keeps the English placeholders', () => {
    for (const { id } of LOCALES) {
      for (const k of keys) expect(placeholders(CATALOGUES[id][k]), `${id} ${k}`).toEqual(placeholders(en[k]));
    }
  });

  it('the locales are translated, not copies of English', () => {
    for (const { id } of LOCALES) {
      if (id === 'en') continue;
      const same = keys.filter((k) => CATALOGUES[id][k] === en[k] && /[a-z]{4,}/.test(en[k]));
      // product names, code and words shared with English (Status, Version…) may stay
      expect(same.length / keys.length, `${id}: ${same.slice(0, 10).join(', ')}`).toBeLessThan(0.06);
    }
  });
});

describe('t and the locale', () => {
  it('fills placeholders and leaves unknown ones as written', () => {
    expect(format('Up {uptime} · v{version}', { uptime: '3 h', version: 7 })).toBe('Up 3 h · v7');
    expect(format('as requested, or {model}')).toBe('as requested, or {model}');
    expect(placeholders('{b} and {a} and {b}')).toEqual(['a', 'b', 'b']);
  });

  it('matches browser language tags to a supported locale', () => {
    expect(matchLocale('de-AT')).toBe('de');
    expect(matchLocale('zh-Hans-CN')).toBe('zh-CN');
    expect(matchLocale('zh-TW')).toBe('zh-CN');
    expect(matchLocale('ja')).toBe('ja');
    expect(matchLocale('pt-BR')).toBeUndefined();
    expect(matchLocale(undefined)).toBeUndefined();
  });

  it('switches language and tells listeners', () => {
    const before = getLocale();
    try {
      setLocale('de');
      expect(t('nav.overview')).toBe('Übersicht');
      expect(t('routing.roll_back_msg', { version: 3 })).toBe('Auf v3 zurückrollen');
      setLocale('ja');
      expect(t('nav.settings')).toBe(CATALOGUES.ja['nav.settings']);
      setLocale('en');
      expect(t('nav.overview')).toBe('Overview');
    } finally {
      setLocale(before);
    }
  });

  it('tn keeps elements as pieces of one message', () => {
    const parts = tn('updates.release_notes_for', { version: 'X' });
    expect(parts).toHaveLength(3);
  });
});
