// End-to-end for the UI's language, theme and raw TOML editor, against a real
// `aigw serve` with fake upstreams (Chromium via playwright-core):
//
//     npm --prefix frontend run e2e:i18n     (builds the UI first)
//
// Needs target/debug/aigw and target/debug/fake-upstream (or AIGW_BIN /
// FAKE_UPSTREAM_BIN). The untranslated-string check switches to German,
// visits every page and fails on any visible text node (or placeholder) that
// is exactly an English catalogue message, apart from messages the locale
// translates with the same words and ALLOW below (product names, code); then
// it opens the provider switch dialog, a fallback test's cost order and a
// verification result and checks those too.
// Prints `e2e i18n: N passed, N failed` and exits non-zero on any failure.
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, ROOT, SHOTS, chromiumPath, killAll, runner, startFakeUpstreams, startGateway } from './harness.mjs';

const T = 15_000;
const LOCALE = process.env.AIGW_E2E_LOCALE || 'de';
/** English messages that are also right in German (and in most locales). */
const ALLOW = new Set([
  'Client', 'Fallbacks', 'Name', 'Original', 'Route', 'Routing', 'Status', 'System', 'Tokens', 'Tokens / min', 'Tokens/s',
  'TTFT p50 / p95', 'Version', 'live', 'OK', 'Baseline', 'normal', 'Probe', '(Claude Code:', 'aigw_admin_…', 'sk-…', 'https://api.example.com/v1',
]);
// every page of the sidebar (App.tsx PAGES)
const PAGES = ['overview', 'providers', 'routing', 'fallback', 'telemetry', 'benchmark', 'connect', 'settings', 'keys', 'config'];

fs.mkdirSync(SHOTS, { recursive: true });
if (!fs.existsSync(path.join(ROOT, 'frontend', 'dist', 'index.html'))) {
  console.error('frontend/dist is missing: run `npm --prefix frontend run build` (the e2e script does it).');
  process.exit(2);
}

/** A catalogue file as key → message (one `"key": "message",` per line). */
function catalogue(id) {
  const src = fs.readFileSync(path.join(ROOT, 'frontend', 'src', 'i18n', `${id}.ts`), 'utf8');
  const out = new Map();
  for (const m of src.matchAll(/^ {2}("[^"]+"): (".*"),$/gm)) out.set(JSON.parse(m[1]), JSON.parse(m[2]));
  if (out.size < 100) throw new Error(`read only ${out.size} messages from ${id}.ts`);
  return out;
}

/**
 * The English catalogue as message → key, without the messages the checked
 * locale translates with the same words (French "Mode", German "Status").
 */
function englishMessages() {
  const local = catalogue(LOCALE);
  const out = new Map();
  for (const [k, msg] of catalogue('en')) if (local.get(k) !== msg) out.set(msg, k);
  return out;
}

/** Visible text nodes and placeholders on the page that are exactly an English catalogue message. */
async function untranslated(english, where) {
  const texts = await page.evaluate(() => {
    const out = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      const s = n.textContent.replace(/\s+/g, ' ').trim();
      if (!s || !el || el.closest('script,style,code,pre,kbd,.mono,textarea')) continue;
      if (!el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })) continue;
      out.push(s);
    }
    for (const el of document.querySelectorAll('input[placeholder],textarea[placeholder]')) {
      if (el.checkVisibility()) out.push(el.getAttribute('placeholder').trim());
    }
    return out;
  });
  return texts.filter((s) => english.has(s) && !ALLOW.has(s)).map((s) => `${where}: "${s}" (${english.get(s)})`);
}

function expect(cond, msg) {
  if (!cond) throw new Error(msg);
}

let page = null;
const r = runner(() => page);
const consoleErrors = [];
const browser = await chromium.launch({ executablePath: chromiumPath(), headless: true, args: CHROMIUM_ARGS });
let exitCode = 1;
try {
  const { urls } = await startFakeUpstreams({ primary: 'ok', backup: 'ok', trusted: 'verify_honest', cheap: 'verify_substitute' });
  const gw = await startGateway('i18n', (listen) =>
    [
      '# e2e i18n config',
      '[server]',
      `listen = "${listen}"`,
      '',
      '[[providers]]',
      'name = "primary"',
      'kind = "openai"',
      `base_url = "${urls.primary}"`,
      '',
      '[[providers]]',
      'name = "backup"',
      'kind = "openai"',
      `base_url = "${urls.backup}"`,
      '',
      '[[routes]]',
      'model = "gpt-4o-mini"',
      '[[routes.targets]]',
      'provider = "primary"',
      '[[routes.targets]]',
      'provider = "backup"',
      '',
      // for the verification run below, and a disabled provider with a key pool (one key set, one missing)
      '[[providers]]',
      'name = "trusted"',
      'kind = "openai"',
      `base_url = "${urls.trusted}"`,
      '',
      '[[providers]]',
      'name = "cheap"',
      'kind = "openai"',
      `base_url = "${urls.cheap}"`,
      '',
      '[[providers]]',
      'name = "pooled"',
      'kind = "openai"',
      `base_url = "${urls.backup}"`,
      'api_keys = ["env:AIGW_E2E_POOL_A", "env:AIGW_E2E_POOL_B"]',
      'enabled = false',
      '',
      // a cost route, for the fallback test's cost order
      '[[routes]]',
      'model = "cost-model"',
      'strategy = "cost"',
      '[[routes.targets]]',
      'provider = "primary"',
      '[[routes.targets]]',
      'provider = "backup"',
      '',
    ].join('\n'),
    { AIGW_E2E_POOL_A: 'sk-e2e-pool-a' },
  );
  // some traffic so the charts and the request log have rows
  for (let i = 0; i < 3; i++) {
    const res = await fetch(gw.base + '/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });
    await res.text();
  }
  const ctx = await browser.newContext({ viewport: { width: 1360, height: 880 }, colorScheme: 'light', locale: 'en-US' });
  page = await ctx.newPage();
  page.setDefaultTimeout(T);
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) consoleErrors.push(m.text());
  });

  await r.step('English by default (navigator.language en-US); sign in', async () => {
    await page.goto(gw.base + '/ui/');
    await page.getByLabel('Admin token').fill(gw.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
    expect((await page.evaluate(() => document.documentElement.lang)) === 'en', 'html lang en');
  });

  await r.step('raw TOML editor: highlighted, a bad edit is explained with its line, a good one is diffed and published', async () => {
    await page.keyboard.press('9');
    await page.getByRole('heading', { name: 'Config file', level: 1 }).waitFor();
    const input = page.getByTestId('toml-input');
    await page.getByTestId('validation-ok').waitFor();
    const live = await input.inputValue();
    expect(live.includes('# e2e i18n config'), 'the editor holds the live file, comments included');
    expect((await page.locator('.toml-hl .tk-table').first().textContent()) === '[server]', 'table headers are highlighted');
    expect((await page.locator('.toml-hl .tk-comment').first().textContent()) === '# e2e i18n config', 'comments are highlighted');
    // a route to a provider that does not exist, on a known line
    const bad = live + '\n[[routes]]\nmodel = "broken"\n[[routes.targets]]\nprovider = "nowhere"\n';
    const badLine = bad.split('\n').indexOf('provider = "nowhere"') + 1;
    await input.fill(bad);
    const issues = page.getByTestId('validation-issues');
    await issues.waitFor();
    const text = await issues.textContent();
    expect(text.includes('nowhere') && text.includes(`line ${badLine}`), `the error names the provider and line ${badLine}: ${text}`);
    expect(await page.getByTestId('toml-publish').isDisabled(), 'an invalid file cannot be published');
    // a valid edit: a new route, with a comment
    const good = live + '\n# added in the raw editor\n[[routes]]\nmodel = "gpt-4o"\n[[routes.targets]]\nprovider = "backup"\n';
    await input.fill(good);
    await page.getByTestId('validation-ok').waitFor();
    await page.locator('[data-testid="diff"] .diff-add', { hasText: '# added in the raw editor' }).waitFor();
    await page.getByTestId('toml-message').fill('raw edit from e2e');
    await page.screenshot({ path: path.join(SHOTS, 'i18n-01-raw-editor.png') });
    await page.getByTestId('toml-publish').click();
    await page.getByText(/Published config version \d+\./).waitFor();
    const hist = await gw.admin('GET', '/config/history?limit=1');
    expect(hist.body.versions[0].message === 'raw edit from e2e' && hist.body.versions[0].source === 'ui', `history: ${JSON.stringify(hist.body.versions[0])}`);
    const routes = await gw.admin('GET', '/routes');
    expect(routes.body.routes.some((x) => x.model === 'gpt-4o'), 'the published route is live');
  });

  await r.step('theme toggle: dark and light override the system, kept after a reload, system again', async () => {
    const bg = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect((await bg()) === 'rgb(246, 247, 249)', `light system theme first (${await bg()})`);
    await page.getByTestId('theme').selectOption('dark');
    expect((await bg()) === 'rgb(15, 17, 23)', `dark chosen (${await bg()})`);
    await page.reload();
    await page.getByTestId('theme').waitFor();
    expect((await bg()) === 'rgb(15, 17, 23)', `dark kept after reload (${await bg()})`);
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.getByTestId('theme').selectOption('light');
    expect((await bg()) === 'rgb(246, 247, 249)', `light chosen on a dark system (${await bg()})`);
    await page.getByTestId('theme').selectOption('system');
    expect((await bg()) === 'rgb(15, 17, 23)', `system follows the (dark) system again (${await bg()})`);
    await page.emulateMedia({ colorScheme: 'light' });
  });

  await r.step(`language switcher: ${LOCALE}, kept after a reload, numbers and dates per locale`, async () => {
    await page.keyboard.press('1');
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
    await page.getByTestId('locale').selectOption(LOCALE);
    await page.waitForFunction((l) => document.documentElement.lang === l, LOCALE);
    const h = await page.locator('main h1').textContent();
    expect(h !== 'Overview', `the heading is translated (${h})`);
    await page.reload();
    await page.locator('main h1').waitFor();
    expect((await page.locator('main h1').textContent()) === h, 'the language is kept after a reload');
    // the same number formatted by the page's Intl and by the locale
    const fmt = await page.evaluate((l) => new Intl.NumberFormat(l).format(1234.5), LOCALE);
    expect(LOCALE !== 'de' || fmt === '1.234,5', `German number format (${fmt})`);
  });

  await r.step(`every page in ${LOCALE}: no visible English catalogue text left`, async () => {
    const english = englishMessages();
    const found = [];
    for (const id of PAGES) {
      await page.goto(`${gw.base}/ui/#/${id}`);
      await page.locator('main h1').waitFor();
      await page.waitForLoadState('networkidle');
      await page.screenshot({ path: path.join(SHOTS, `i18n-${LOCALE}-${id}.png`), fullPage: true });
      found.push(...(await untranslated(english, `#/${id}`)));
    }
    expect(found.length === 0, `untranslated in ${LOCALE}:\n         ${[...new Set(found)].join('\n         ')}`);
  });

  await r.step(`in ${LOCALE} after actions: the provider switch dialog, a key pool, a cost order, a verification result`, async () => {
    const english = englishMessages();
    const found = [];
    await page.goto(`${gw.base}/ui/#/providers`);
    const card = page.getByTestId('provider-pooled');
    await card.getByTestId('key-pool').waitFor();
    expect((await card.getByTestId('key-pool').locator('li').count()) === 2, 'the pool lists its two keys');
    await card.getByTestId('toggle-pooled').click();
    await page.getByTestId('validation-ok').waitFor();
    found.push(...(await untranslated(english, '#/providers, enable dialog')));
    await page.keyboard.press('Escape');
    await page.getByTestId('validation-ok').waitFor({ state: 'detached' });
    await page.goto(`${gw.base}/ui/#/fallback`);
    await page.getByTestId('fb-route').selectOption('cost-model');
    await page.getByTestId('fb-run').click();
    await page.getByTestId('fb-cost-order').waitFor();
    found.push(...(await untranslated(english, '#/fallback, cost order')));
    await page.goto(`${gw.base}/ui/#/benchmark`);
    const sec = page.getByTestId('verify');
    await sec.getByTestId('verify-baseline-provider').locator('option[value="trusted"]').waitFor({ state: 'attached' });
    await sec.getByTestId('verify-baseline-provider').selectOption('trusted');
    await sec.getByTestId('verify-baseline-model').fill('big-model');
    await sec.getByTestId('verify-target-provider').selectOption('cheap');
    await sec.getByTestId('verify-target-model').fill('big-model');
    await sec.getByTestId('verify-baseline-btn').click();
    await sec.getByTestId('verify-recorded').waitFor({ timeout: 60_000 });
    await sec.getByTestId('verify-run-btn').click();
    await sec.locator('[data-testid="verify-result"] [data-verdict="highly_suspect"]').waitFor({ timeout: 60_000 });
    await sec.getByTestId('verify-history-row').first().waitFor();
    await sec.locator('[data-testid="verify-result"] details summary').click();
    await sec.getByTestId('verify-probes').waitFor();
    await page.screenshot({ path: path.join(SHOTS, `i18n-${LOCALE}-verify-result.png`), fullPage: true });
    found.push(...(await untranslated(english, '#/benchmark, verification result')));
    expect(found.length === 0, `untranslated in ${LOCALE}:\n         ${[...new Set(found)].join('\n         ')}`);
  });

  await r.step('back to English from the switcher', async () => {
    await page.getByTestId('locale').selectOption('en');
    await page.waitForFunction(() => document.documentElement.lang === 'en');
    await page.goto(`${gw.base}/ui/#/overview`);
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
  });

  await r.step('no console errors', async () => {
    expect(consoleErrors.length === 0, `console errors: ${consoleErrors.join('; ')}`);
  });

  await gw.stop();
  const s = r.summary();
  console.log(s.line.replace(/^e2e:/, 'e2e i18n:'));
  exitCode = s.failed === 0 ? 0 : 1;
} catch (e) {
  const s = r.summary();
  console.log(`FAIL - harness: ${e?.stack ?? e}`);
  console.log(`e2e i18n: ${s.passed} passed, ${s.failed + 1} failed`);
  exitCode = 1;
} finally {
  await browser.close().catch(() => {});
  killAll();
}
process.exit(exitCode);
