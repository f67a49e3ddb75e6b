// The colour theme: `system` follows prefers-color-scheme; `light` and `dark`
// set data-theme on <html>, which styles.css reads. Saved in localStorage.
export type Theme = 'system' | 'light' | 'dark';
const KEY = 'aigw.theme';

export function getTheme(): Theme {
  try {
    const v = localStorage.getItem(KEY);
    return v === 'light' || v === 'dark' ? v : 'system';
  } catch {
    return 'system';
  }
}

export function applyTheme(theme: Theme = getTheme()): void {
  const root = document.documentElement;
  if (theme === 'system') delete root.dataset.theme;
  else root.dataset.theme = theme;
}

export function setTheme(theme: Theme): void {
  try {
    if (theme === 'system') localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, theme);
  } catch {
    // storage refused (private mode): the choice lasts for this page only
  }
  applyTheme(theme);
}
