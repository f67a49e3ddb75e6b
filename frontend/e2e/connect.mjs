// End-to-end: the Connect tools page in Debian's Chromium against a real
// `aigw serve` whose HOME is a temp dir, so connecting writes real files
// there: Claude Code and Codex CLI are connected through the page (preview
// diff, confirm), their files checked on disk, then disconnected and their
// bytes compared with what was there before.
//
//     npm --prefix frontend run e2e:connect      (builds the UI first)
//
// Needs target/debug/aigw and target/debug/fake-upstream (see run.mjs) and
// /usr/bin/chromium. Prints `e2e: N passed, N failed`.
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, ROOT, SHOTS, chromiumPath, killAll, runner, sleep, startFakeUpstreams, startGateway, tmpDir } from './harness.mjs';

const T = 15_000;
fs.mkdirSync(SHOTS, { recursive: true });
if (!fs.existsSync(path.join(ROOT, 'frontend', 'dist', 'index.html'))) {
  console.error('frontend/dist is missing: run `npm --prefix frontend run build` (the e2e script does it).');
  process.exit(2);
}

function expect(cond, msg) {
  if (!cond) throw new Error(msg);
}
async function until(fn, what, ms = T) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

// What the user had before connecting: files with their own settings,
// comments and layout, which must come back byte for byte.
const home = tmpDir('aigw-e2e-home-');
const claudeFile = path.join(home, '.claude', 'settings.json');
const codexFile = path.join(home, '.codex', 'config.toml');
const claudeBefore = '{\n  "theme": "dark",\n  "permissions": {\n    "allow": ["Bash(ls)"]\n  }\n}\n';
const codexBefore = [
  '# my codex settings',
  'model = "o4-mini"   # keep this comment',
  '',
  '[mcp_servers.docs]',
  'command = "docs-server"',
  'args = ["--port", "7000"]',
  '',
  '[desktop]',
  'notify = true',
  '',
].join('\n');
fs.mkdirSync(path.dirname(claudeFile), { recursive: true });
fs.mkdirSync(path.dirname(codexFile), { recursive: true });
fs.writeFileSync(claudeFile, claudeBefore);
fs.writeFileSync(codexFile, codexBefore);

let page = null;
const r = runner(() => page);
const consoleErrors = [];
const shot = (name) => page.screenshot({ path: path.join(SHOTS, name), fullPage: true });

async function newPage(browser) {
  const ctx = await browser.newContext({ viewport: { width: 1360, height: 900 }, deviceScaleFactor: 1 });
  const p = await ctx.newPage();
  p.setDefaultTimeout(T);
  p.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) consoleErrors.push(m.text());
  });
  // The page runs under the gateway's strict CSP: a violation is an error too.
  await p.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`));
  });
  return p;
}

async function signIn(gw, token) {
  await page.goto(gw.base + '/ui/#/connect');
  await page.getByLabel('Admin token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Connect tools', level: 1 }).waitFor();
}

const browser = await chromium.launch({ executablePath: chromiumPath(), headless: true, args: CHROMIUM_ARGS });
let exitCode = 1;
try {
  const { urls } = await startFakeUpstreams({ openai: 'ok', anthropic: 'ok' });
  const gw = await startGateway(
    'connect',
    (listen) =>
      [
        '[server]',
        `listen = "${listen}"`,
        '',
        '[[providers]]',
        'name = "openai"',
        'kind = "openai"',
        `base_url = "${urls.openai}"`,
        '',
        '[[routes]]',
        'model = "gpt-4o-mini"',
        '[[routes.targets]]',
        'provider = "openai"',
        '',
        '[[routes]]',
        'model = "claude-sonnet-5"',
        '[[routes.targets]]',
        'provider = "openai"',
        'model = "gpt-4o-mini"',
        '',
      ].join('\n'),
    // The gateway (and so every file it connects) lives in the temp home.
    { HOME: home, XDG_CONFIG_HOME: path.join(home, '.config') },
  );
  page = await newPage(browser);

  await r.step('connect tools: the page lists the tools with their state', async () => {
    await signIn(gw, gw.token);
    const claude = page.getByTestId('tool-claude-code');
    await claude.waitFor();
    await page.getByTestId('tool-codex').waitFor();
    await page.getByTestId('tool-cursor').waitFor();
    await claude.getByTestId('badges-claude-code').getByText('Not connected').waitFor();
    await claude.getByText(claudeFile).waitFor();
    await page.getByTestId('launchers').getByText('aigw run claude', { exact: true }).waitFor();
    await page.getByTestId('launchers').getByText('aigw run codex', { exact: true }).waitFor();
    await shot('connect-01-page.png');
  });

  await r.step('connect Claude Code: the preview diff, then the file on disk', async () => {
    const claude = page.getByTestId('tool-claude-code');
    await claude.getByText('Models (optional)').click();
    await claude.getByTestId('claude-model-model').selectOption('claude-sonnet-5');
    await claude.getByTestId('connect-claude-code').click();
    const preview = page.getByTestId('connect-preview');
    const diff = preview.getByTestId('diff');
    await diff.waitFor();
    const text = await diff.textContent();
    expect(text.includes(`--- ${claudeFile}`), `the diff names the file:\n${text}`);
    expect(/\+.*ANTHROPIC_BASE_URL/.test(text), `the diff adds ANTHROPIC_BASE_URL:\n${text}`);
    expect(/\+.*claude-sonnet-5/.test(text), `the diff sets the chosen model:\n${text}`);
    expect(fs.readFileSync(claudeFile, 'utf8') === claudeBefore, 'the preview wrote nothing');
    await shot('connect-02-claude-preview.png');
    await page.getByTestId('connect-confirm').click();
    await claude.getByTestId('outcome-claude-code').waitFor();
    await claude.getByTestId('badges-claude-code').getByText('Connected', { exact: true }).waitFor();
    const written = JSON.parse(fs.readFileSync(claudeFile, 'utf8'));
    expect(typeof written.env?.ANTHROPIC_BASE_URL === 'string' && written.env.ANTHROPIC_BASE_URL.startsWith(gw.base), `ANTHROPIC_BASE_URL points at the gateway: ${JSON.stringify(written.env)}`);
    expect(written.env.ANTHROPIC_MODEL === 'claude-sonnet-5', `ANTHROPIC_MODEL is the chosen route: ${JSON.stringify(written.env)}`);
    expect(written.theme === 'dark' && written.permissions?.allow?.[0] === 'Bash(ls)', 'the user’s own settings are kept');
  });

  await r.step('connect Codex CLI: the provider table is added, the rest kept', async () => {
    const codex = page.getByTestId('tool-codex');
    await codex.getByTestId('connect-codex').click();
    const diff = page.getByTestId('connect-preview').getByTestId('diff');
    await diff.waitFor();
    const text = await diff.textContent();
    expect(/\+\[model_providers\./.test(text), `the diff adds a provider table:\n${text}`);
    expect(!/^-\[mcp_servers/m.test(text), `the diff keeps [mcp_servers.docs]:\n${text}`);
    await page.getByTestId('connect-confirm').click();
    await codex.getByTestId('outcome-codex').waitFor();
    await codex.getByTestId('badges-codex').getByText('Connected', { exact: true }).waitFor();
    const written = fs.readFileSync(codexFile, 'utf8');
    expect(/^model_provider\s*=/m.test(written), `model_provider is set:\n${written}`);
    expect(written.includes(gw.base), `the base URL points at the gateway:\n${written}`);
    for (const kept of ['# my codex settings', '[mcp_servers.docs]', 'args = ["--port", "7000"]', '[desktop]', '# keep this comment']) {
      expect(written.includes(kept), `kept ${kept}:\n${written}`);
    }
    await shot('connect-03-connected.png');
  });

  await r.step('the list endpoint agrees: both connected, not drifted', async () => {
    const list = await gw.admin('GET', '/clients');
    expect(list.status === 200, `GET /clients: ${list.status}`);
    for (const name of ['claude-code', 'codex']) {
      const c = list.body.clients.find((x) => x.name === name);
      expect(c?.connected === true && c.drifted === false, `${name}: ${JSON.stringify(c)}`);
    }
  });

  await r.step('Cursor: the values to paste and the live check', async () => {
    const cursor = page.getByTestId('tool-cursor');
    const values = await cursor.getByTestId('cursor-values').textContent();
    expect(values.includes(`${gw.base}/v1`), `the base URL to paste: ${values}`);
    await cursor.getByTestId('cursor-check').getByText('No request from Cursor yet').waitFor();
    // A request as Cursor sends it (its user-agent), through the gateway.
    const res = await fetch(gw.base + '/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer aigw-local', 'user-agent': 'Cursor/2.3.1' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello from Cursor' }] }),
    });
    await res.text();
    expect(res.status === 200, `the request was served (${res.status})`);
    await cursor.getByTestId('cursor-check').getByText('We saw a request from Cursor at').waitFor();
    await shot('connect-05-cursor-seen.png');
  });

  await r.step('a request from Claude Code shows as its last request', async () => {
    const res = await fetch(gw.base + '/v1/messages', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'aigw-local', 'anthropic-version': '2023-06-01', 'user-agent': 'claude-cli/2.1.197 (external, cli)' },
      body: JSON.stringify({ model: 'claude-sonnet-5', max_tokens: 16, messages: [{ role: 'user', content: 'hello' }] }),
    });
    await res.text();
    await page.getByTestId('seen-claude-code').getByText('Last request just now').waitFor();
  });

  await r.step('disconnect Claude Code: the file is back byte for byte', async () => {
    const claude = page.getByTestId('tool-claude-code');
    await claude.getByTestId('disconnect-claude-code').click();
    await claude.getByTestId('outcome-claude-code').getByText('Restored byte for byte').waitFor();
    await claude.getByTestId('badges-claude-code').getByText('Not connected').waitFor();
    expect(fs.readFileSync(claudeFile, 'utf8') === claudeBefore, `settings.json restored:\n${fs.readFileSync(claudeFile, 'utf8')}`);
  });

  await r.step('Claude Code in subscription mode: the login stays, the gateway key goes as x-aigw-key', async () => {
    const claude = page.getByTestId('tool-claude-code');
    await claude.getByTestId('connect-claude-code').click();
    const preview = page.getByTestId('connect-preview');
    await preview.getByTestId('diff').waitFor();
    await preview.getByTestId('connect-subscription').locator('input').check();
    await until(async () => /ANTHROPIC_CUSTOM_HEADERS/.test(await preview.getByTestId('diff').textContent()), 'the preview shows the custom header');
    const text = await preview.getByTestId('diff').textContent();
    expect(!/\+.*ANTHROPIC_AUTH_TOKEN/.test(text), `no auth variable in subscription mode:\n${text}`);
    await page.getByTestId('connect-confirm').click();
    await claude.getByTestId('badges-claude-code').getByText('Connected', { exact: true }).waitFor();
    const written = JSON.parse(fs.readFileSync(claudeFile, 'utf8'));
    expect(/^x-aigw-key: \S+$/m.test(written.env?.ANTHROPIC_CUSTOM_HEADERS ?? ''), `x-aigw-key in ANTHROPIC_CUSTOM_HEADERS: ${JSON.stringify(written.env)}`);
    expect(written.env.ANTHROPIC_AUTH_TOKEN === undefined, `no ANTHROPIC_AUTH_TOKEN: ${JSON.stringify(written.env)}`);
    await claude.getByTestId('disconnect-claude-code').click();
    await claude.getByTestId('outcome-claude-code').getByText('Restored byte for byte').waitFor();
    expect(fs.readFileSync(claudeFile, 'utf8') === claudeBefore, 'settings.json restored after subscription mode');
  });

  await r.step('disconnect Codex CLI: config.toml is back byte for byte', async () => {
    const codex = page.getByTestId('tool-codex');
    await codex.getByTestId('disconnect-codex').click();
    await codex.getByTestId('outcome-codex').getByText('Restored byte for byte').waitFor();
    await codex.getByTestId('badges-codex').getByText('Not connected').waitFor();
    expect(fs.readFileSync(codexFile, 'utf8') === codexBefore, `config.toml restored:\n${fs.readFileSync(codexFile, 'utf8')}`);
    await shot('connect-04-disconnected.png');
  });

  await r.step('connect, edit by hand, disconnect: the hand edit is kept (merged)', async () => {
    const codex = page.getByTestId('tool-codex');
    await codex.getByTestId('connect-codex').click();
    await page.getByTestId('connect-preview').getByTestId('diff').waitFor();
    await page.getByTestId('connect-confirm').click();
    await codex.getByTestId('badges-codex').getByText('Connected', { exact: true }).waitFor();
    fs.appendFileSync(codexFile, '\n[tui]\nnotifications = true\n');
    await codex.getByTestId('badges-codex').getByText('Edited since').waitFor();
    await codex.getByTestId('disconnect-codex').click();
    await codex.getByTestId('outcome-codex').getByText('your edits kept').waitFor();
    const after = fs.readFileSync(codexFile, 'utf8');
    expect(after.includes('[tui]') && after.includes('notifications = true'), `the hand edit is kept:\n${after}`);
    expect(!/^model_provider\s*=/m.test(after), `the gateway's settings are gone:\n${after}`);
    expect(after.includes('[mcp_servers.docs]'), `the user's tables are kept:\n${after}`);
  });

  await r.step('a viewer sees the state but no buttons', async () => {
    await page.context().close();
    page = await newPage(browser);
    await signIn(gw, gw.viewerToken());
    await page.getByTestId('connect-readonly').waitFor();
    await page.getByTestId('tool-claude-code').waitFor();
    expect((await page.locator('[data-testid^="connect-claude"], [data-testid^="disconnect-"]').count()) === 0, 'no connect or disconnect for viewers');
    const forbidden = await page.evaluate(async () => (await fetch('/admin/api/clients/codex/connect', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status);
    expect(forbidden === 403, `the API refuses a viewer too (${forbidden})`);
  });

  await r.step('connect tools: no console errors or CSP violations', async () => {
    expect(consoleErrors.length === 0, `console errors: ${consoleErrors.join('; ')}`);
  });

  await gw.stop();
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
  fs.rmSync(home, { recursive: true, force: true });
}
process.exit(exitCode);
