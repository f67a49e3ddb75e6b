// End-to-end: the Keys page (team mode) in Chromium against a real
// `aigw serve` with a fake upstream: a key is created in the dialog, its
// secret (shown once) answers a chat request, then the key is revoked on
// the page and the same secret gets 401 at once.
//
//     npm --prefix frontend run e2e:keys      (builds the UI first)
//
// Needs target/debug/aigw and target/debug/fake-upstream (or AIGW_BIN /
// FAKE_UPSTREAM_BIN) and Chromium. Prints `e2e keys: N passed, N failed`.
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, ROOT, SHOTS, chromiumPath, killAll, runner, startFakeUpstreams, startGateway } from './harness.mjs';

const T = 15_000;
fs.mkdirSync(SHOTS, { recursive: true });
if (!fs.existsSync(path.join(ROOT, 'frontend', 'dist', 'index.html'))) {
  console.error('frontend/dist is missing: run `npm --prefix frontend run build` (the e2e script does it).');
  process.exit(2);
}

function expect(cond, msg) {
  if (!cond) throw new Error(msg);
}

let page = null;
const r = runner(() => page);
const consoleErrors = [];
const shot = (name) => page.screenshot({ path: path.join(SHOTS, name), fullPage: true });

const browser = await chromium.launch({ executablePath: chromiumPath(), headless: true, args: CHROMIUM_ARGS });
let exitCode = 1;
try {
  const { urls } = await startFakeUpstreams({ openai: 'ok' });
  const gw = await startGateway('keys', (listen) =>
    ['[server]', `listen = "${listen}"`, '', '[[providers]]', 'name = "openai"', 'kind = "openai"', `base_url = "${urls.openai}"`, '', '[[routes]]', 'model = "*"', '[[routes.targets]]', 'provider = "openai"', ''].join('\n'),
  );
  const ctx = await browser.newContext({ viewport: { width: 1360, height: 900 }, deviceScaleFactor: 1 });
  page = await ctx.newPage();
  page.setDefaultTimeout(T);
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) consoleErrors.push(m.text());
  });
  const chat = (secret) =>
    fetch(`${gw.base}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-5', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
    }).then((x) => x.status);
  let secret = '';

  await r.step('keys: create a key in the dialog; its secret is shown once and works', async () => {
    await page.goto(gw.base + '/ui/#/keys');
    await page.getByLabel('Admin token').fill(gw.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Team keys', level: 1 }).waitFor();
    await page.getByText('No virtual keys yet').waitFor();
    await page.getByTestId('vkey-create').click();
    await page.locator('#vk-name').fill('alice');
    await page.locator('#vk-team').fill('ml');
    await page.locator('#vk-models').fill('gpt-5*, claude-*');
    await page.locator('#vk-budget').fill('10');
    await page.getByTestId('vkey-create-confirm').click();
    secret = (await page.getByTestId('vkey-secret').textContent()).trim();
    expect(secret.startsWith('aigw_vk_'), `a secret: ${secret}`);
    await shot('keys-01-secret.png');
    await page.keyboard.press('Escape');
    const row = page.getByTestId('vkey-alice');
    await row.waitFor();
    expect(!(await row.textContent()).includes(secret), 'the list does not show the secret');
    expect((await chat(secret)) === 200, 'the secret answers a chat');
  });

  await r.step('keys: revoke on the page; the secret gets 401 at once', async () => {
    await page.getByTestId('vkey-revoke-alice').click();
    await page.getByTestId('vkey-revoke-confirm').click();
    await page.getByTestId('vkey-alice').getByText('revoked').waitFor();
    await shot('keys-02-revoked.png');
    const s = await chat(secret);
    expect(s === 401, `revoked: ${s}`);
  });

  await r.step('keys: no console errors', async () => {
    expect(consoleErrors.length === 0, `console errors: ${consoleErrors.join('; ')}`);
  });

  await gw.stop();
  const s = r.summary();
  console.log(s.line.replace(/^e2e/, 'e2e keys'));
  exitCode = s.failed === 0 ? 0 : 1;
} catch (e) {
  const s = r.summary();
  console.log(`FAIL - harness: ${e?.stack ?? e}`);
  console.log(`e2e keys: ${s.passed} passed, ${s.failed + 1} failed`);
  exitCode = 1;
} finally {
  await browser.close().catch(() => {});
  killAll();
}
process.exit(exitCode);
