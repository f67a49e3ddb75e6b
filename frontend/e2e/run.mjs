// End-to-end: the operator UI in Debian's Chromium (playwright-core) against
// a real `aigw serve` with fake upstreams. One command:
//
//     npm --prefix frontend run e2e      (builds the UI first)
//
// Needs target/debug/aigw, target/debug/aigw-release and target/debug/fake-upstream
// (`cargo build -p gateway-core --bin aigw -p aigw-release -p testkit --bins`) and
// /usr/bin/chromium. Screenshots go to frontend/e2e/screenshots/.
// Prints `e2e: N passed, N failed` and exits non-zero on any failure.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import {
  CHROMIUM_ARGS,
  ROOT,
  SHOTS,
  chromiumPath,
  fakeAigw,
  fakeOllama,
  killAll,
  makeRelease,
  runner,
  serveDir,
  sleep,
  startFakeUpstreams,
  startGateway,
  tmpDir,
} from './harness.mjs';

const T = 15_000;
fs.rmSync(SHOTS, { recursive: true, force: true });
fs.mkdirSync(SHOTS, { recursive: true });
if (!fs.existsSync(path.join(ROOT, 'frontend', 'dist', 'index.html'))) {
  console.error('frontend/dist is missing: run `npm --prefix frontend run build` (the e2e script does it).');
  process.exit(2);
}

let page = null;
const r = runner(() => page);
const cspViolations = [];
const consoleErrors = [];
const shot = (name, opts = {}) => page.screenshot({ path: path.join(SHOTS, name), fullPage: opts.fullPage ?? false });
// `AIGW_E2E_DOCS_IMG=1` also refreshes the README's screenshots in docs/img/.
const DOCS_IMG = process.env.AIGW_E2E_DOCS_IMG ? path.join(ROOT, 'docs', 'img') : null;
const docShot = async (name) => {
  if (!DOCS_IMG) return;
  fs.mkdirSync(DOCS_IMG, { recursive: true });
  await page.screenshot({ path: path.join(DOCS_IMG, name) });
};

function expect(cond, msg) {
  if (!cond) throw new Error(msg);
}

async function newPage(browser, colorScheme = 'light') {
  const ctx = await browser.newContext({ viewport: { width: 1360, height: 880 }, colorScheme, deviceScaleFactor: 1 });
  const p = await ctx.newPage();
  p.setDefaultTimeout(T);
  p.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) consoleErrors.push(m.text());
  });
  await p.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  p.on('console', (m) => {
    if (m.text().startsWith('CSP violation')) cspViolations.push(m.text());
  });
  return p;
}

async function login(gw) {
  await page.goto(gw.base + '/');
  await page.getByLabel('Admin token').fill(gw.token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
}

async function chat(gw, model, { stream = false } = {}) {
  const res = await fetch(gw.base + '/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer local' },
    body: JSON.stringify({ model, stream, messages: [{ role: 'user', content: 'hello from the e2e test' }] }),
  });
  await res.text();
  return res;
}

const browser = await chromium.launch({ executablePath: chromiumPath(), headless: true, args: CHROMIUM_ARGS });
let exitCode = 1;
try {
  // ---------------------------------------------------------------------
  // 1. A brand-new gateway: no providers, a local "Ollama" to detect.
  // ---------------------------------------------------------------------
  const ollama = await fakeOllama();
  const empty = await startGateway('empty', (listen) => `[server]\nlisten = "${listen}"\n`);
  page = await newPage(browser);

  await r.step('login page: a wrong token is refused in words', async () => {
    await page.goto(empty.base + '/');
    expect(page.url().endsWith('/ui/'), `/ redirects to /ui/ (at ${page.url()})`);
    await page.getByLabel('Admin token').fill('aigw_admin_wrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('That token is not this gateway’s admin or viewer token').waitFor();
    await shot('01-login.png');
  });

  await r.step('login with the admin token', async () => {
    await page.getByLabel('Admin token').fill(empty.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
  });

  await r.step('empty state guides: no providers yet, add one', async () => {
    await page.getByText('No providers yet: add one').waitFor();
    await shot('02-overview-empty.png');
    await page.getByRole('button', { name: 'Add a provider' }).click();
    await page.getByTestId('preset-grid').waitFor();
    await shot('03-add-provider-presets.png');
    await page.keyboard.press('Escape');
  });

  await r.step('detected local Ollama is added with one click', async () => {
    if (!ollama) return 'skip';
    await page.getByTestId('detected-local').getByText('Ollama is running on this machine').waitFor();
    await shot('04-detected-ollama.png');
    await page.getByRole('button', { name: 'Add Ollama' }).click();
    await page.getByTestId('provider-ollama').waitFor();
    const st = await empty.admin('GET', '/providers');
    expect(st.body.providers.some((p) => p.name === 'ollama' && p.base_url.includes('11434')), 'ollama provider is configured');
  });
  await empty.stop();
  ollama?.close();
  await page.context().close();

  // ---------------------------------------------------------------------
  // 2. A configured gateway with fake upstreams.
  // ---------------------------------------------------------------------
  const { urls } = await startFakeUpstreams({ primary: 'ok', backup: 'ok', flaky: 'status:503', spare: 'ok' });
  const gw = await startGateway('main', (listen) =>
    [
      '# e2e config: comments must survive UI edits',
      '[server]',
      `listen = "${listen}"`,
      '',
      '[[providers]]',
      'name = "primary"',
      'kind = "openai"',
      `base_url = "${urls.primary}"`,
      '',
      '[[providers]]',
      'name = "backup"   # the fallback',
      'kind = "openai"',
      `base_url = "${urls.backup}"`,
      '',
      '[[providers]]',
      'name = "flaky"',
      'kind = "openai"',
      `base_url = "${urls.flaky}"`,
      '',
      '[[routes]]',
      'model = "gpt-4o-mini"',
      '[[routes.targets]]',
      'provider = "primary"',
      '[[routes.targets]]',
      'provider = "backup"',
      'model = "llama-3.1-8b"',
      '',
      '[[routes]]',
      'model = "gpt-4o"',
      'cooldown_s = 1',
      '[[routes.targets]]',
      'provider = "flaky"',
      '[[routes.targets]]',
      'provider = "backup"',
      '',
      '[profiles.cheap]',
      '[[profiles.cheap.routes]]',
      'model = "gpt-4o-mini"',
      '[[profiles.cheap.routes.targets]]',
      'provider = "backup"',
      'model = "llama-3.1-8b"',
      '',
    ].join('\n'),
  );
  const status0 = await gw.admin('GET', '/status');
  const keychain = status0.body.admin_token_storage === 'keychain';
  console.log(`     gateway ${gw.base}, admin tokens in ${JSON.stringify(status0.body.admin_token_storage)}`);
  page = await newPage(browser);

  await r.step('overview: running, endpoint URL, snippets', async () => {
    await login(gw);
    await page.getByTestId('run-state').getByText('Running').waitFor();
    const ep = await page.getByTestId('endpoint-url').textContent();
    expect(ep === `${gw.base}/v1`, `endpoint shown (${ep})`);
    await page.getByRole('tab', { name: 'Codex CLI' }).click();
    await page.getByText('[model_providers.aigw]').waitFor();
    await page.getByRole('tab', { name: 'OpenAI Python' }).click();
  });

  await r.step('providers: add one from a preset (key to the keychain when there is one)', async () => {
    await page.keyboard.press('2');
    await page.getByRole('heading', { name: 'Providers & keys', level: 1 }).waitFor();
    await page.getByTestId('provider-list').getByTestId('provider-primary').waitFor();
    await page.getByTestId('add-provider').click();
    await page.getByTestId('preset-custom').click();
    await page.getByTestId('pf-name').fill('spare');
    await page.getByTestId('pf-url').fill(urls.spare);
    if (keychain) {
      await page.getByLabel('API key').selectOption('keyring');
      await page.getByLabel('Keychain entry name').fill('spare-key');
      await page.getByTestId('pf-secret').fill('sk-e2e-secret-never-shown');
    } else {
      await page.getByLabel('API key').selectOption('none');
    }
    await shot('05-provider-form.png');
    await page.getByTestId('provider-review').click();
    await page.getByTestId('validation-ok').waitFor();
    const diff = await page.getByTestId('diff').textContent();
    expect(diff.includes('+name = "spare"'), 'diff shows the new provider');
    await shot('06-provider-review.png');
    await docShot('ui-add-provider.png');
    await page.getByTestId('publish').click();
    await page.getByTestId('provider-spare').waitFor();
    const cfg = await gw.admin('GET', '/config');
    expect(cfg.body.version.toml?.includes('# e2e config: comments must survive UI edits') ?? true, 'comments survive');
    if (keychain) {
      await page.getByTestId('provider-spare').getByText('key set').waitFor();
      const body = await page.content();
      expect(!body.includes('sk-e2e-secret-never-shown'), 'the secret is not in the page');
    }
  });

  await r.step('providers: probe', async () => {
    await page.getByTestId('probe-spare').click();
    await page.getByTestId('provider-spare').getByTestId('probe-result').getByText('Reachable').waitFor();
    await shot('07-providers.png', { fullPage: true });
  });

  await r.step('providers: the enabled switch publishes an audited version, and back', async () => {
    const card = page.getByTestId('provider-spare');
    const before = (await gw.admin('GET', '/config')).body.version.id;
    await card.getByTestId('toggle-spare').click();
    await page.getByTestId('validation-ok').waitFor();
    const diff = await page.getByTestId('diff').textContent();
    expect(diff.includes('+enabled = false'), `the diff shows the switch:\n${diff}`);
    await page.getByTestId('publish').click();
    await card.getByText('disabled', { exact: true }).waitFor();
    const st = (await gw.admin('GET', '/status')).body;
    const spare = st.provider_states.find((p) => p.name === 'spare');
    expect(spare && spare.enabled === false, `status shows spare disabled: ${JSON.stringify(st.provider_states)}`);
    expect(st.config_version > before, 'a new config version');
    const audit = (await gw.admin('GET', '/audit?limit=1')).body.entries[0];
    expect(audit.action === 'publish' && audit.detail.source === 'ui', `audited as a UI publish: ${JSON.stringify(audit)}`);
    await shot('07b-provider-disabled.png');
    await card.getByTestId('toggle-spare').click();
    await page.getByTestId('validation-ok').waitFor();
    await page.getByTestId('publish').click();
    await card.getByText('disabled', { exact: true }).waitFor({ state: 'detached' });
    const st2 = (await gw.admin('GET', '/status')).body;
    expect(st2.provider_states.find((p) => p.name === 'spare').enabled === true, 'enabled again');
  });

  let publishedVersion = 0;
  await r.step('routing: reorder and add a target, live check, diff, publish with a message', async () => {
    await page.keyboard.press('3');
    await page.getByRole('heading', { name: 'Routing', level: 1 }).waitFor();
    const route = page.getByTestId('route-gpt-4o-mini');
    await route.getByTestId('add-target').click();
    const rows = route.getByTestId('target-row');
    expect((await rows.count()) === 3, 'three targets');
    await rows.nth(2).getByTestId('target-provider').selectOption('spare');
    await rows.nth(2).getByTestId('target-up').click(); // spare before backup
    await route.getByTestId('route-cooldown').fill('20');
    await page.getByTestId('publish-panel').getByTestId('validation-ok').waitFor();
    const diff = await page.getByTestId('publish-panel').getByTestId('diff').textContent();
    expect(diff.includes('+provider = "spare"'), 'diff adds spare');
    await page.getByTestId('route-message').fill('e2e: spare as second target');
    await shot('08-routing-edit.png', { fullPage: true });
    await docShot('ui-routing.png');
    await page.getByTestId('route-publish').click();
    await page.getByText(/Published config version \d+/).waitFor();
    const hist = await gw.admin('GET', '/config/history');
    publishedVersion = hist.body.live_version;
    expect(hist.body.versions[0].message === 'e2e: spare as second target', 'history has the message');
    const routes = await gw.admin('GET', '/routes');
    const r0 = routes.body.routes.find((x) => x.model === 'gpt-4o-mini');
    expect(r0.targets.map((t) => t.provider).join(',') === 'primary,spare,backup', `live order (${r0.targets.map((t) => t.provider)})`);
    expect(r0.cooldown_s === 20, 'cooldown published');
  });

  await r.step('routing: local validation explains a bad edit', async () => {
    const route = page.getByTestId('route-gpt-4o');
    await route.getByTestId('route-model').fill('gpt-4o-mini');
    await page.getByTestId('local-issues').getByText('is already routed above').waitFor();
    await page.getByRole('button', { name: 'Discard' }).click();
  });

  await r.step('history: the new version with its diff, then roll back', async () => {
    const v = page.getByTestId(`version-${publishedVersion}`);
    await v.getByText('e2e: spare as second target').waitFor();
    await v.getByRole('button').first().click();
    await v.getByTestId('diff').waitFor();
    await shot('09-history.png', { fullPage: true });
    const prev = page.getByTestId(`version-${publishedVersion - 1}`);
    await prev.getByRole('button').first().click();
    await page.getByTestId(`rollback-${publishedVersion - 1}`).click();
    await page.getByRole('dialog').getByTestId('diff').waitFor();
    await shot('10-rollback-dialog.png');
    await page.getByTestId('rollback-confirm').click();
    await page.getByText(/Rolled back: config version \d+/).waitFor();
    const routes = await gw.admin('GET', '/routes');
    const r0 = routes.body.routes.find((x) => x.model === 'gpt-4o-mini');
    expect(r0.targets.map((t) => t.provider).join(',') === 'primary,backup', 'rolled back to two targets');
    const hist = await gw.admin('GET', '/config/history');
    expect(hist.body.live_version === publishedVersion + 1, 'rollback is a new version');
    await page.getByTestId(`version-${publishedVersion + 1}`).getByText('live').waitFor();
    expect((await page.getByTestId('route-gpt-4o-mini').getByTestId('target-row').count()) === 2, 'editor shows the rolled back route');
  });

  await r.step('fallback test: first target forced to fail, backup serves', async () => {
    await page.keyboard.press('4');
    await page.getByTestId('fb-route').selectOption('gpt-4o-mini');
    await page.getByTestId('fb-run').click();
    await page.getByTestId('fb-result').waitFor();
    const provider = await page.getByTestId('fb-provider').textContent();
    const mode = await page.getByTestId('fb-mode').textContent();
    expect(provider === 'backup', `served by backup (${provider})`);
    expect(mode === 'model fallback', `route mode (${mode})`);
    expect((await page.getByTestId('fb-attempts').locator('tbody tr').count()) >= 2, 'two attempts shown');
    await shot('11-fallback-test.png');
    await docShot('ui-fallback-test.png');
  });

  await r.step('real traffic through /v1/chat/completions draws the charts', async () => {
    for (let i = 0; i < 12; i++) {
      const res = await chat(gw, 'gpt-4o-mini', { stream: i % 3 === 0 });
      expect(res.status === 200, `chat ${i}: ${res.status}`);
    }
    for (let i = 0; i < 4; i++) {
      const res = await chat(gw, 'gpt-4o'); // flaky 503 → backup
      expect(res.status === 200 && res.headers.get('x-aigw-route-mode') === 'provider_fallback', `fallback ${i}: ${res.status} ${res.headers.get('x-aigw-route-mode')}`);
      await sleep(1100); // past the 1 s cooldown, so flaky is tried again
    }
    const missing = await chat(gw, 'no-such-model');
    expect(missing.status === 404, 'unknown model is a 404');
    // The telemetry writer batches: wait until the log has every request.
    for (let i = 0; ; i++) {
      const log = await gw.admin('GET', '/telemetry/requests?minutes=15&limit=100');
      if (log.status === 200 && log.body.items.length >= 17) break;
      if (i > 100) throw new Error(`the request log has ${log.body?.items?.length} requests, expected 17`);
      await sleep(100);
    }
    await page.keyboard.press('5');
    await page.getByRole('heading', { name: 'Telemetry', level: 1 }).waitFor();
    await page.getByRole('radio', { name: '15 min' }).click();
    await page.locator('[data-testid="chart-requests"][data-empty="false"]').waitFor();
    await page.locator('[data-testid="chart-latency"][data-empty="false"]').waitFor();
    await page.locator('[data-testid="chart-requests"] canvas').waitFor();
    const rows = await page.getByTestId('request-row').count();
    expect(rows >= 17, `request log rows (${rows})`);
    await shot('12-telemetry.png', { fullPage: true });
  });

  await r.step('telemetry: split by provider, filter fallbacks, one request with its attempts', async () => {
    await page.getByRole('radio', { name: 'Provider' }).click();
    await page.locator('[data-testid="chart-requests"][data-empty="false"]').waitFor();
    await page.getByRole('radio', { name: 'Fallbacks' }).click();
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('[data-testid="request-row"]')];
      return rows.length > 0 && rows.every((r) => r.textContent.includes('fallback'));
    });
    await shot('13-telemetry-split.png', { fullPage: true });
    await page.getByTestId('request-row').first().click();
    await page.getByTestId('request-detail').waitFor();
    const attempts = await page.getByTestId('detail-attempts').locator('tbody tr').count();
    expect(attempts === 2, `two attempts (${attempts})`);
    await page.getByTestId('detail-attempts').getByText('flaky').waitFor();
    await shot('14-request-detail.png');
    await page.keyboard.press('Escape');
  });

  await r.step('telemetry: search the request log, export it as CSV and JSONL', async () => {
    await page.getByRole('radio', { name: 'All' }).first().click();
    const search = page.getByLabel('Search requests');
    await search.fill('no-such-model');
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('[data-testid="request-row"]')];
      return rows.length === 1 && rows[0].textContent.includes('no-such-model');
    });
    const [csv] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
    expect(csv.suggestedFilename() === 'aigw-requests.csv', `csv name (${csv.suggestedFilename()})`);
    const text = fs.readFileSync(await csv.path(), 'utf8');
    const lines = text.trim().split('\n');
    expect(lines[0].startsWith('id,time_ms,'), `csv header (${lines[0]})`);
    expect(lines.length === 2 && lines[1].includes('no-such-model'), `csv rows match the search (${lines.length})`);
    const [jsonl] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export JSONL' }).click()]);
    const objs = fs.readFileSync(await jsonl.path(), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(objs.length === 1 && objs[0].requested_model === 'no-such-model' && objs[0].status === 404, `jsonl rows (${objs.length})`);
    await search.fill('');
    // the page's shortcut keys go to the page again, not into the box
    await search.evaluate((el) => el.blur());
  });

  await r.step('overview: numbers from the last hour and provider health', async () => {
    await page.keyboard.press('1');
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
    await page.waitForFunction(() => {
      const v = document.querySelector('[data-testid="kpi-fallbacks"] .kpi-value')?.textContent;
      return v && v !== '…' && Number(v) >= 4;
    });
    const rpm = await page.locator('[data-testid="kpi-rpm"] .kpi-value').textContent();
    expect(Number(rpm) > 0, `requests/min (${rpm})`);
    await page.getByTestId('provider-health').getByText('flaky', { exact: true }).waitFor();
    await page.locator('[data-testid="overview-chart"][data-empty="false"]').waitFor();
    await shot('15-overview.png', { fullPage: true });
    if (DOCS_IMG) {
      await page.setViewportSize({ width: 1360, height: 1240 });
      await page.getByTestId('provider-health').scrollIntoViewIfNeeded();
      await page.evaluate(() => window.scrollTo(0, 0));
      await docShot('ui-overview.png');
      await page.setViewportSize({ width: 1360, height: 880 });
    }
  });

  await r.step('pause and resume', async () => {
    await page.getByTestId('pause-toggle').click();
    await page.getByTestId('run-state').getByText('Paused').waitFor();
    const res = await chat(gw, 'gpt-4o-mini');
    expect(res.status === 503, `paused gateway answers 503 (${res.status})`);
    await page.getByTestId('pause-toggle').click();
    await page.getByTestId('run-state').getByText('Running').waitFor();
    expect((await chat(gw, 'gpt-4o-mini')).status === 200, 'serving again');
  });

  await r.step('routing profile switch and back', async () => {
    await page.keyboard.press('3');
    await page.getByTestId('profile-select').selectOption('cheap');
    await page.getByText('Profile cheap is active').waitFor();
    let routes = await gw.admin('GET', '/routes');
    expect(routes.body.active_profile === 'cheap', `active profile (${routes.body.active_profile})`);
    const r0 = routes.body.routes.find((x) => x.model === 'gpt-4o-mini');
    expect(r0.targets.map((t) => t.provider).join(',') === 'backup', 'the profile routes are live');
    await shot('16-routing-profile.png');
    await page.getByTestId('profile-select').selectOption('');
    await page.getByText('Profile cheap is active').waitFor({ state: 'detached' });
    routes = await gw.admin('GET', '/routes');
    expect(routes.body.active_profile === null, 'back to the default routes');
  });

  await r.step('routing: the cost strategy is selectable; the fallback test shows the cost order', async () => {
    await page.keyboard.press('3');
    await page.getByRole('heading', { name: 'Routing', level: 1 }).waitFor();
    const route = page.getByTestId('route-gpt-4o-mini');
    await route.getByRole('radio', { name: 'Lowest cost' }).click();
    await page.getByTestId('publish-panel').getByTestId('validation-ok').waitFor();
    const diff = await page.getByTestId('publish-panel').getByTestId('diff').textContent();
    expect(diff.includes('+strategy = "cost"'), 'diff sets strategy cost');
    await page.getByTestId('route-message').fill('e2e: cheapest first');
    await page.getByTestId('route-publish').click();
    await page.getByText(/Published config version \d+/).waitFor();
    let routes = await gw.admin('GET', '/routes');
    expect(routes.body.routes.find((x) => x.model === 'gpt-4o-mini').strategy === 'cost', 'cost published');
    await page.keyboard.press('4');
    await page.getByTestId('fb-route').selectOption('gpt-4o-mini');
    await page.getByTestId('fb-run').click();
    const order = page.getByTestId('fb-cost-order');
    await order.waitFor();
    const rows = order.locator('tbody tr');
    expect((await rows.count()) === 2, 'two targets in the cost order');
    const first = await rows.nth(0).textContent();
    const last = await rows.nth(1).textContent();
    // gpt-4o-mini is in the price table; backup's llama-3.1-8b is not: last
    expect(first.includes('primary') && first.includes('$'), `cheapest first (${first})`);
    expect(last.includes('backup') && last.includes('no price'), `unknown price last (${last})`);
    expect((await page.getByTestId('fb-provider').textContent()) === 'backup', 'the next-cheapest served');
    await shot('15b-fallback-cost-order.png');
    // back to priority for the steps after this one
    await page.keyboard.press('3');
    await page.getByTestId('route-gpt-4o-mini').getByRole('radio', { name: 'Priority' }).click();
    await page.getByTestId('publish-panel').getByTestId('validation-ok').waitFor();
    await page.getByTestId('route-message').fill('e2e: back to priority');
    await page.getByTestId('route-publish').click();
    // (the first publish's toast may still show: wait for the live routes)
    for (let i = 0; ; i++) {
      routes = await gw.admin('GET', '/routes');
      if (routes.body.routes.find((x) => x.model === 'gpt-4o-mini').strategy === 'priority') break;
      if (i > 100) throw new Error('the route did not go back to priority');
      await sleep(100);
    }
  });

  await r.step('replay: a request from its detail to another provider (paste the body when not stored)', async () => {
    await page.keyboard.press('5');
    await page.getByRole('heading', { name: 'Telemetry', level: 1 }).waitFor();
    await page.getByTestId('request-row').first().click();
    await page.getByTestId('request-detail').waitFor();
    await page.getByTestId('replay-open').click();
    const panel = page.getByTestId('replay-panel');
    await panel.getByTestId('replay-provider').locator('option[value="backup"]').waitFor({ state: 'attached' });
    await panel.getByTestId('replay-provider').selectOption('backup');
    await panel.getByTestId('replay-model').fill('gpt-4o-mini');
    await panel.getByTestId('replay-send').click();
    await panel.locator('[data-testid="replay-error"], [data-testid="replay-compare"]').first().waitFor();
    if (await panel.getByTestId('replay-error').count()) {
      // This gateway runs without telemetry.store_bodies: the reason in words, then paste.
      const msg = await panel.getByTestId('replay-error').textContent();
      expect(msg.includes('paste the body instead'), `says to paste the body (${msg})`);
      await shot('20-replay-paste.png');
      await panel.getByTestId('replay-body').fill(JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello again from the e2e replay' }] }));
      await panel.getByTestId('replay-send-body').click();
    }
    await panel.getByTestId('replay-status').getByText('200').waitFor();
    const to = await panel.getByTestId('replay-result').textContent();
    expect(to.includes('backup') && to.includes('gpt-4o-mini') && to.includes('Hello from backup'), `replay went to backup:gpt-4o-mini (${to})`);
    await panel.getByTestId('replay-compare').scrollIntoViewIfNeeded();
    await shot('21-replay-result.png');
    await page.keyboard.press('Escape');
    const reps = await gw.admin('GET', '/telemetry/requests?minutes=60&origin=replay');
    expect(reps.body.items.some((x) => x.provider === 'backup'), 'the replay is logged as a replay');
  });

  await r.step('model benchmark: empty state, estimate, run against the fakes, 100 %, history chart', async () => {
    await page.keyboard.press('6');
    await page.getByRole('heading', { name: 'Model benchmark', level: 1 }).waitFor();
    await page.getByText('No benchmark runs yet').waitFor();
    expect(await page.getByTestId('bench-run-btn').isDisabled(), 'Run is disabled before an estimate');
    const t0 = page.getByTestId('bench-target').nth(0);
    await t0.getByTestId('bench-provider').locator('option[value="primary"]').waitFor({ state: 'attached' });
    await t0.getByTestId('bench-provider').selectOption('primary');
    await t0.getByTestId('bench-model').fill('gpt-4o-mini');
    await page.getByTestId('bench-add-target').click();
    const t1 = page.getByTestId('bench-target').nth(1);
    await t1.getByTestId('bench-provider').selectOption('backup');
    await t1.getByTestId('bench-model').fill('llama-3.1-8b');
    await page.getByTestId('bench-requests').fill('2');
    await page.getByTestId('bench-estimate-btn').click();
    const est = await page.getByTestId('bench-estimate').textContent();
    expect(est.includes('4 requests') && est.includes('Hard cap'), `estimate (${est})`);
    await shot('22-benchmark-estimate.png');
    await page.getByTestId('bench-run-btn').click();
    const rows = page.getByTestId('bench-results').getByTestId('bench-report');
    await rows.first().waitFor({ timeout: 60_000 });
    expect((await rows.count()) === 2, `two reports (${await rows.count()})`);
    const rates = await page.getByTestId('bench-results').getByTestId('bench-success').allTextContents();
    expect(rates.every((x) => x.trim() === '100 %'), `success 100 % (${rates})`);
    await page.locator('[data-testid="bench-chart"][data-empty="false"]').waitFor();
    const runs = await gw.admin('GET', '/bench/runs');
    expect(runs.body.runs.length === 1 && runs.body.runs[0].source === 'ui', 'the run is stored with source ui');
    await shot('23-benchmark-results.png', { fullPage: true });
  });

  await r.step('model benchmark: a tiny cost cap stops the run, said in words; runs comparable over time', async () => {
    await page.getByTestId('bench-target').nth(1).getByRole('button', { name: /Remove/ }).click();
    await page.getByTestId('bench-maxcost').fill('0.00001');
    expect(await page.getByTestId('bench-run-btn').isDisabled(), 'an edit asks for a new estimate');
    await page.getByTestId('bench-estimate-btn').click();
    await page.getByTestId('bench-estimate').waitFor();
    await page.getByTestId('bench-run-btn').click();
    await page.getByTestId('bench-stopped').getByText('STOPPED by the cost cap').waitFor({ timeout: 60_000 });
    await page.getByTestId('bench-history').locator('details').nth(1).waitFor();
    await shot('24-benchmark-cost-cap.png', { fullPage: true });
  });

  await r.step('verification runs: a baseline from a truthful fake; a substitute is highly suspect with reasons, a truthful mirror normal', async () => {
    // Three scripted fakes that answer the probe suite, added by a publish.
    const v = await startFakeUpstreams({ trusted: 'verify_honest', cheap: 'verify_substitute', mirror: 'verify_honest' });
    const live = await gw.admin('GET', '/config');
    const extra = Object.entries(v.urls)
      .map(([n, u]) => `\n[[providers]]\nname = "${n}"\nkind = "openai"\nbase_url = "${u}"\n`)
      .join('');
    const pub = await gw.admin('POST', '/config/publish', { toml: live.body.version.toml + extra, message: 'e2e: providers for verification runs' });
    expect(pub.status === 200, `publish (${pub.status} ${JSON.stringify(pub.body)})`);
    await page.reload();
    await page.getByRole('heading', { name: 'Model benchmark', level: 1 }).waitFor();
    const sec = page.getByTestId('verify');
    await sec.getByText('No verification runs yet').waitFor();
    await sec.getByTestId('verify-baseline-provider').locator('option[value="trusted"]').waitFor({ state: 'attached' });
    await sec.getByTestId('verify-baseline-provider').selectOption('trusted');
    await sec.getByTestId('verify-baseline-model').fill('big-model');
    await sec.getByTestId('verify-target-provider').selectOption('cheap');
    await sec.getByTestId('verify-target-model').fill('big-model');
    await sec.getByTestId('verify-baseline-btn').click();
    await sec.getByTestId('verify-recorded').waitFor({ timeout: 60_000 });
    await sec.getByTestId('verify-run-btn').click();
    await sec.locator('[data-testid="verify-result"] [data-verdict="highly_suspect"]').waitFor({ timeout: 60_000 });
    const reasons = await sec.getByTestId('verify-reason').allTextContents();
    expect(reasons.some((t) => t.includes('token_count') && t.includes('input tokens')), `a token-count reason (${reasons.join(' | ')})`);
    expect(reasons.some((t) => t.includes('arithmetic') && t.includes('7006652')), `a failed check with what was expected (${reasons.join(' | ')})`);
    await shot('24b-verify-highly-suspect.png', { fullPage: true });
    await sec.getByTestId('verify-target-provider').selectOption('mirror');
    await sec.getByTestId('verify-run-btn').click();
    await sec.locator('[data-testid="verify-result"] [data-verdict="normal"]').waitFor({ timeout: 60_000 });
    await sec.getByTestId('verify-history-row').nth(1).waitFor();
    const runs = await gw.admin('GET', '/verify/runs');
    const verdicts = runs.body.runs.map((x) => x.verdict);
    expect(verdicts.join(',') === 'normal,highly_suspect', `stored runs, newest first (${verdicts})`);
    expect(runs.body.runs.every((x) => x.source === 'ui'), 'stored with source ui');
    v.child.stdin.end();
  });

  await r.step('settings: version, updates not set up (with the CLI hint), audit log; sign out', async () => {
    await page.keyboard.press('8');
    const v = await page.getByTestId('version').textContent();
    expect(v === status0.body.version, `version (${v})`);
    // This gateway has no AIGW_UPDATE_URL: the check says so, in words.
    await page.getByTestId('update-headline').getByText('Update checks are not set up in this build').waitFor();
    await page.getByText('aigw update check --manifest-url URL').first().waitFor();
    await page.getByText('From a terminal').waitFor();
    await page.getByTestId('audit').getByText('rolled back').waitFor();
    await page.getByTestId('audit').getByText('127.0.0.1').first().waitFor();
    // Download diagnostics: a gzip from the admin API with the session cookie
    const link = page.getByTestId('diagnostics-download');
    expect((await link.getAttribute('href')) === '/admin/api/diagnostics', 'diagnostics link');
    const diag = await page.evaluate(async () => {
      const r = await fetch('/admin/api/diagnostics');
      const b = new Uint8Array(await r.arrayBuffer());
      return { status: r.status, type: r.headers.get('content-type'), gzip: b[0] === 0x1f && b[1] === 0x8b };
    });
    expect(diag.status === 200 && diag.type === 'application/gzip' && diag.gzip, `diagnostics download (${JSON.stringify(diag)})`);
    await shot('17-settings.png', { fullPage: true });
    await page.getByTestId('logout').click();
    await page.getByLabel('Admin token').waitFor();
    const who = await page.evaluate(async () => (await fetch('/admin/api/session')).status);
    expect(who === 401, 'session ended');
  });

  await r.step('dark mode follows the system', async () => {
    await page.context().close();
    page = await newPage(browser, 'dark');
    await login(gw);
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(bg === 'rgb(15, 17, 23)', `dark background (${bg})`);
    await page.locator('[data-testid="overview-chart"][data-empty="false"]').waitFor();
    await shot('18-overview-dark.png', { fullPage: true });
    await page.keyboard.press('5');
    await page.locator('[data-testid="chart-requests"][data-empty="false"]').waitFor();
    await shot('19-telemetry-dark.png', { fullPage: true });
    await docShot('ui-telemetry-dark.png');
  });

  await r.step('a viewer token signs in read-only', async () => {
    await page.context().close();
    page = await newPage(browser);
    await page.goto(gw.base + '/ui/');
    await page.getByLabel('Admin token').fill(gw.viewerToken());
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Read-only (viewer token)').waitFor();
    expect(await page.getByTestId('pause-toggle').isDisabled(), 'pause is disabled for viewers');
    await page.keyboard.press('2');
    await page.getByTestId('provider-primary').waitFor();
    expect((await page.getByTestId('add-provider').count()) === 0, 'no add button for viewers');
    expect((await page.getByTestId('edit-primary').count()) === 0, 'no edit button for viewers');
  });

  await r.step('served with a strict CSP, no violations, no console errors', async () => {
    const res = await fetch(gw.base + '/ui/');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp.startsWith("default-src 'self'") && !csp.includes('unsafe-inline'), `CSP header (${csp})`);
    expect(res.headers.get('cache-control') === 'no-cache', 'index.html is no-cache');
    const html = await res.text();
    const asset = html.match(/\/ui\/(assets\/[^"]+\.js)/)?.[1];
    const a = await fetch(`${gw.base}/ui/${asset}`);
    expect(a.headers.get('cache-control')?.includes('immutable'), 'hashed assets are immutable');
    expect(a.headers.get('content-type')?.startsWith('text/javascript'), 'js content type');
    const deep = await fetch(gw.base + '/ui/some/deep/link');
    expect(deep.status === 200 && (await deep.text()).includes('<div id="root">'), 'SPA fallback');
    expect(cspViolations.length === 0, `CSP violations: ${cspViolations.join('; ')}`);
    expect(consoleErrors.length === 0, `console errors: ${consoleErrors.join('; ')}`);
  });

  await gw.stop();
  await page.context().close();

  // ---------------------------------------------------------------------
  // 3. Signed self-update through the UI: a real release made with
  //    aigw-release (its own key, trusted by this debug build through
  //    AIGW_DEV_UPDATE_PUBKEY), served from 127.0.0.1; the binary updated
  //    is a stand-in script (AIGW_UPDATE_BINARY), not the running gateway.
  // ---------------------------------------------------------------------
  const updDir = tmpDir('aigw-e2e-update-');
  const rel = makeRelease(updDir, '9.9.9');
  const relServer = await serveDir(rel.releaseDir);
  const installed = fakeAigw(path.join(updDir, 'installed', 'aigw'), '0.0.1');
  const original = fs.readFileSync(installed, 'utf8');
  const manifestUrl = `${relServer.base}/manifest.json`;
  const ugw = await startGateway('update', (listen) => `[server]\nlisten = "${listen}"\n`, {
    AIGW_UPDATE_URL: manifestUrl,
    AIGW_UPDATE_BINARY: installed,
    AIGW_DEV_UPDATE_PUBKEY: rel.pubkey,
  });
  page = await newPage(browser);
  const headline = () => page.getByTestId('update-headline');
  const confirmDialog = async (label) => {
    const dialog = page.locator('dialog[open]');
    await dialog.waitFor();
    const btn = dialog.getByTestId('update-confirm');
    expect((await btn.textContent()) === label, `confirm button says ${label} (${await btn.textContent()})`);
    await btn.click();
    await page.locator('dialog[open]').waitFor({ state: 'detached' });
  };

  await r.step('updates: the check finds the signed release 9.9.9 (manifest and key shown)', async () => {
    await login(ugw);
    await page.keyboard.press('8');
    await headline().getByText('Update available: 9.9.9, released').waitFor();
    await page.getByTestId('update-checked-at').getByText('Last checked').waitFor();
    const meta = await page.getByTestId('update-meta').textContent();
    expect(meta.includes(manifestUrl) && meta.includes(rel.pubkey) && meta.includes(rel.target), `manifest URL, key and target shown (${meta})`);
    const bin = await page.getByTestId('update-binary').textContent();
    expect(bin.includes('0.0.1'), `the binary to update and its version (${bin})`);
    expect((await page.getByTestId('update-install').textContent()) === 'Install 9.9.9', 'install button names the version');
    expect((await page.getByTestId('update-rollback').count()) === 0, 'nothing to roll back yet');
    // Check again by hand: still the same answer.
    await page.getByTestId('update-check').click();
    await headline().getByText('Update available: 9.9.9').waitFor();
    await shot('25-updates-available.png', { fullPage: true });
  });

  await r.step('updates: verify only (dry run) downloads and verifies, replaces nothing', async () => {
    await page.getByTestId('update-verify').click();
    await page.getByTestId('update-result-ok').getByText('Verified 9.9.9').waitFor();
    expect(fs.readFileSync(installed, 'utf8') === original, 'the binary is unchanged after a dry run');
    expect(relServer.hits.some((h) => h.endsWith('.tar.gz')), `the archive was downloaded (${relServer.hits.join(', ')})`);
  });

  await r.step('updates: install 9.9.9 after a confirm; the binary on disk is the new one', async () => {
    await page.getByTestId('update-install').click();
    await confirmDialog('Install 9.9.9');
    const ok = page.getByTestId('update-result-ok');
    await ok.getByText('Installed 9.9.9 at').waitFor();
    await ok.getByText('systemctl restart aigw').waitFor();
    const now = fs.readFileSync(installed, 'utf8');
    expect(now.includes('aigw 9.9.9') && now !== original, `the installed file is the release's (${JSON.stringify(now)})`);
    const out = spawnSync(installed, ['--version'], { encoding: 'utf8' }).stdout.trim();
    expect(out === 'aigw 9.9.9', `the new binary reports its version (${out})`);
    // The page checks again: now up to date, with the old version kept.
    await headline().getByText('Up to date (9.9.9)').waitFor();
    expect((await page.getByTestId('update-rollback').textContent()) === 'Roll back to 0.0.1', 'rollback offers 0.0.1');
    await page.getByTestId('update-previous').getByText('0.0.1').waitFor();
    await page.getByTestId('audit').getByText('installed an update: 0.0.1 → 9.9.9').waitFor();
    await shot('26-updates-installed.png', { fullPage: true });
  });

  await r.step('updates: roll back to 0.0.1 after a confirm; the old binary is back', async () => {
    await page.getByTestId('update-rollback').click();
    await confirmDialog('Roll back to 0.0.1');
    await page.getByTestId('update-result-ok').getByText('Rolled back to 0.0.1 at').waitFor();
    expect(fs.readFileSync(installed, 'utf8') === original, 'the original script is back, byte for byte');
    await headline().getByText('Update available: 9.9.9').waitFor();
    expect((await page.getByTestId('update-rollback').textContent()) === 'Roll back to 9.9.9', 'a second rollback would undo the first');
  });

  const goodArchive = fs.readFileSync(rel.archive);
  await r.step('updates: a tampered archive is refused in words and nothing is changed', async () => {
    fs.writeFileSync(rel.archive, Buffer.alloc(goodArchive.length, 0x41));
    await page.getByTestId('update-install').click();
    await confirmDialog('Install 9.9.9');
    const err = page.getByTestId('update-result-error');
    await err.waitFor();
    const text = await err.textContent();
    expect(text.includes('Nothing was changed: ') && /checksum|signature|sha-?256/i.test(text), `says why, and that nothing changed (${text})`);
    expect(!/nothing was changed:\s*nothing was changed/i.test(text), `says it once (${text})`);
    expect(fs.readFileSync(installed, 'utf8') === original, 'the binary on disk is unchanged');
    await headline().getByText('Update available: 9.9.9').waitFor();
    await shot('27-updates-tampered.png', { fullPage: true });
    fs.writeFileSync(rel.archive, goodArchive);
  });

  await r.step('updates: a viewer can check but not install or roll back', async () => {
    await page.context().close();
    page = await newPage(browser);
    await page.goto(ugw.base + '/ui/');
    await page.getByLabel('Admin token').fill(ugw.viewerToken());
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Read-only (viewer token)').waitFor();
    await page.keyboard.press('8');
    await headline().getByText('Update available: 9.9.9').waitFor();
    expect(await page.getByTestId('update-install').isDisabled(), 'install is disabled for viewers');
    expect(await page.getByTestId('update-verify').isDisabled(), 'dry run is disabled for viewers');
    expect(await page.getByTestId('update-rollback').isDisabled(), 'rollback is disabled for viewers');
    await page.getByTestId('update-role-hint').getByText('Needs the admin role').waitFor();
    const forbidden = await page.evaluate(async () => (await fetch('/admin/api/update/apply', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status);
    expect(forbidden === 403, `the API refuses a viewer too (${forbidden})`);
  });

  await r.step('updates in the desktop window (a stand-in Tauri shell): install, Restart now, a tray check', async () => {
    // The same UI over `admin_request` (answered here with the admin token,
    // as the desktop app does; its gateway host says restart_supported), plus
    // `restart_app` and the tray's `update-check` event.
    await page.context().close();
    page = await newPage(browser);
    await page.addInitScript((token) => {
      window.__restarts = 0;
      window.__TAURI__ = {
        core: {
          invoke: async (cmd, args) => {
            if (cmd === 'restart_app') {
              window.__restarts++;
              return null;
            }
            if (cmd !== 'admin_request') throw { code: 'unknown_command', message: cmd };
            const res = await fetch(args.path, {
              method: args.method,
              headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
              body: args.body === null ? undefined : JSON.stringify(args.body),
            });
            let body = await res.text();
            if (args.path.startsWith('/admin/api/update/check') && res.ok) {
              body = JSON.stringify({ ...JSON.parse(body), app: 'aigw-desktop', restart_supported: true });
            }
            return { status: res.status, body };
          },
        },
        event: {
          listen: async (name, handler) => {
            window.__emit = (payload) => handler({ event: name, payload });
            return () => {
              window.__emit = null;
            };
          },
        },
      };
    }, ugw.token);
    await page.goto(ugw.base + '/ui/#/settings');
    await headline().getByText('Update available: 9.9.9').waitFor();
    await page.getByText('desktop app (in-process token)').waitFor();
    await page.getByTestId('update-install').click();
    await confirmDialog('Install 9.9.9');
    const ok = page.getByTestId('update-result-ok');
    await ok.getByText('Installed 9.9.9.').waitFor();
    expect(!(await ok.textContent()).includes('systemctl'), 'no service hint in the desktop app');
    await shot('28-updates-desktop-restart.png');
    await ok.getByTestId('update-restart').click();
    await page.waitForFunction(() => window.__restarts === 1);
    expect(fs.readFileSync(installed, 'utf8').includes('aigw 9.9.9'), 'installed through the desktop transport');
    // A check from the tray menu lands on the page.
    await page.waitForFunction(() => typeof window.__emit === 'function');
    await page.evaluate(() => window.__emit({ ok: false, error: { code: 'update_check_failed', message: 'the tray could not reach the release server' } }));
    await page.getByRole('alert').getByText('the tray could not reach the release server').waitFor();
    expect((await page.getByTestId('update-install').count()) === 0, 'no install offer without a verified check');
    expect((await page.getByTestId('update-rollback').textContent()) === 'Roll back to 0.0.1', 'the kept version can still be restored');
  });

  await r.step('updates: no console errors or CSP violations on the way', async () => {
    expect(cspViolations.length === 0, `CSP violations: ${cspViolations.join('; ')}`);
    expect(consoleErrors.length === 0, `console errors: ${consoleErrors.join('; ')}`);
  });

  await ugw.stop();
  await relServer.close();
  const s = r.summary();
  console.log(s.line);
  exitCode = s.failed === 0 ? 0 : 1;
} catch (e) {
  const s = r.summary();
  console.log(`FAIL - harness: ${e?.stack ?? e}`);
  console.log(`e2e: ${s.passed} passed, ${s.failed + 1} failed`);
  exitCode = 1;
} finally {
  await browser.close().catch(() => {});
  killAll();
}
process.exit(exitCode);
