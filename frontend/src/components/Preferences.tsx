// The language switcher and the theme toggle (system / light / dark), in the
// sidebar foot. Both are saved in localStorage; see src/i18n and lib/theme.ts.
import { useState } from 'react';
import { LOCALES, getLocale, setLocale, t, type Locale } from '../i18n';
import { getTheme, setTheme, type Theme } from '../lib/theme';

export function Preferences() {
  const [theme, setThemeState] = useState<Theme>(getTheme());
  return (
    <div className="prefs">
      <label className="prefs-row">
        <span className="small muted">{t('prefs.language')}</span>
        <select value={getLocale()} onChange={(e) => setLocale(e.target.value as Locale)} data-testid="locale" aria-label={t('prefs.language')}>
          {LOCALES.map((l) => (
            <option key={l.id} value={l.id} lang={l.id}>
              {l.name}
            </option>
          ))}
        </select>
      </label>
      <label className="prefs-row">
        <span className="small muted">{t('prefs.theme')}</span>
        <select
          value={theme}
          onChange={(e) => {
            const v = e.target.value as Theme;
            setTheme(v);
            setThemeState(v);
          }}
          data-testid="theme"
          aria-label={t('prefs.theme')}
        >
          <option value="system">{t('prefs.theme_system')}</option>
          <option value="light">{t('prefs.theme_light')}</option>
          <option value="dark">{t('prefs.theme_dark')}</option>
        </select>
      </label>
    </div>
  );
}
