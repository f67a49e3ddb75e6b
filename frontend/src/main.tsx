import { StrictMode, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { getLocale, onLocaleChange } from './i18n';
import { applyTheme } from './lib/theme';
import './styles.css';

applyTheme();
document.documentElement.lang = getLocale();

/** Re-renders the whole UI in the new language when the switcher changes it. */
function Root() {
  const [locale, setLocale] = useState(getLocale());
  useEffect(() => onLocaleChange(setLocale), []);
  return <App key={locale} />;
}

const root = document.getElementById('root');

if (root) {
  createRoot(root).render(
    <StrictMode>
      <Root />
    </StrictMode>,
  );
}
