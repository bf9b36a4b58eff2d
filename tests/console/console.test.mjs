// The kensa dev console in headless Chromium (Debian's chromium, driven by playwright-core,
// which never downloads a browser): against the node template, provision from the page, see
// the resource and its asynchronous timeline appear, reveal its secrets, sign in, run test
// all, deprovision; the service's output; a call's masked bodies opened by keyboard; a
// resource deprovisioned by `kensa test deprovision` in another terminal; keyboard focus;
// no request leaves the console's origin. Screenshots at
// 1280×800 and on a narrow window go to target/console-screenshots/ (CI artifacts).
//
// Run by `bash tests/dev-e2e.sh`, which builds kensa and installs what this needs; a missing
// prerequisite fails the test with what to install.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const kensa = process.env.KENSA || path.join(root, 'target/debug/kensa');
const modules = process.env.KENSA_DEV_NODE_MODULES;
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const shots = process.env.SCREENSHOTS || path.join(root, 'target/console-screenshots');
const WAIT = 30_000;
const MASK = '••••••';
// How the call log masks a secret (kensa's one masking mechanism, redact::MASK).
const LOGGED = '********';

let work;
let dev;
let exited;
let output = '';
let context;
let consoleUrl;
let providerPort;
let project;

function need(ok, message) {
  if (!ok) throw new Error(message);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitFor(probe, what) {
  const deadline = Date.now() + WAIT;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`never saw ${what}; kensa dev printed:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

before(async () => {
  need(existsSync(kensa), `no kensa binary at ${kensa}: run \`cargo build\` (or bash tests/dev-e2e.sh)`);
  need(modules && existsSync(path.join(modules, 'express')),
    'KENSA_DEV_NODE_MODULES must name the node template\'s installed node_modules: run `bash tests/dev-e2e.sh`');
  need(existsSync(chromiumPath), `no Chromium at ${chromiumPath}: install Debian's chromium (apt-get install chromium)`);
  const { chromium } = await import('playwright-core').catch(() => {
    throw new Error('playwright-core is not installed: run `npm install` in tests/console (bash tests/dev-e2e.sh does)');
  });
  mkdirSync(shots, { recursive: true });
  work = mkdtempSync(path.join(tmpdir(), 'kensa-console-'));
  providerPort = await freePort();
  project = path.join(work, 'provider');
  execFileSync(kensa, ['create', project, '--template', 'node', '--no-input', '--id', 'console-demo',
    '--name', 'Console Demo', '--port', String(providerPort)], { env: { ...process.env, HOME: work } });
  symlinkSync(modules, path.join(project, 'node_modules'));
  dev = spawn(kensa, ['dev', '--no-open', '--async-timeout', '30'], {
    cwd: project, env: { ...process.env, HOME: work, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  exited = new Promise((resolve) => dev.on('exit', (code) => resolve(code)));
  dev.stdout.on('data', (d) => { output += d; });
  dev.stderr.on('data', (d) => { output += d; });
  consoleUrl = await waitFor(() => output.match(/http:\/\/127\.0\.0\.1:\d+\/\?token=\w+/)?.[0], 'the console\'s address');
  await waitFor(() => output.includes('the service answers on port'), 'the service answering');
  const userData = mkdtempSync(path.join(tmpdir(), 'kensa-chromium-'));
  context = await chromium.launchPersistentContext(userData, {
    executablePath: chromiumPath,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await context?.close();
  if (dev && dev.exitCode === null) dev.kill('SIGTERM');
  if (exited) await exited;
  if (work) rmSync(work, { recursive: true, force: true });
});

test('provision from the page, follow the timeline, sign in, run the checks, deprovision', async () => {
  const origin = new URL(consoleUrl).origin;
  const page = await context.newPage();
  const elsewhere = [];
  page.on('request', (r) => { if (!r.url().startsWith(origin)) elsewhere.push(r.url()); });
  await page.goto(consoleUrl);
  await page.locator('#service-state', { hasText: 'running' }).waitFor({ timeout: WAIT });

  // Keyboard: the first Tab reaches the first action, with a visible focus ring.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'run-tests');
  assert.equal(await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle), 'solid');

  // Provision the async plan from the form, by keyboard.
  await page.getByLabel('Plan', { exact: true }).fill('async');
  await page.getByLabel('Plan', { exact: true }).press('Enter');
  const card = page.locator('article.resource').first();
  await card.locator('.badge', { hasText: /^provisioned$/ }).waitFor({ timeout: WAIT });
  const steps = await card.locator('ol.timeline li .step').allTextContents();
  assert.deepEqual(steps, [
    'provision answered 202: provisioning asynchronously',
    'grant exchanged for an access token',
    'config set: CONSOLE_DEMO_URL',
    'provisioned (the provider called back)',
  ]);
  const uuid = (await card.locator('dl.facts dd code').first().textContent()).trim();
  const value = card.locator('table.config td code');
  assert.equal(await value.textContent(), MASK, 'config is masked');
  await page.locator(`#reveal-${uuid}`).click();
  await page.waitForFunction((mask) => {
    const cell = document.querySelector('article.resource table.config td code');
    return cell && cell.textContent !== mask;
  }, MASK, { timeout: WAIT });
  assert.match(await value.textContent(), /^\w+:\/\//, 'revealed: the config var\'s URL');
  await page.locator(`#reveal-${uuid}`).click();
  assert.equal(await value.textContent(), MASK, 'hidden again');

  // The log: both directions, filterable by resource.
  await page.getByLabel('Show').selectOption(uuid);
  await page.locator('#calls li', { hasText: 'service → Heroku' }).first().waitFor({ timeout: WAIT });
  assert.ok(await page.locator('#calls li', { hasText: 'Heroku → service' }).count() >= 1);

  // Sign in: a new tab, signed in at the provider.
  const [dashboard] = await Promise.all([
    context.waitForEvent('page'),
    page.locator(`#sso-${uuid}`).click(),
  ]);
  await dashboard.waitForLoadState('load');
  await dashboard.waitForURL((u) => u.origin === `http://localhost:${providerPort}`, { timeout: WAIT });
  assert.ok((await dashboard.content()).includes('Console Demo'), 'the provider\'s dashboard');
  await dashboard.close();
  await card.locator('ol.timeline li', { hasText: 'signed in through the browser' }).waitFor({ timeout: WAIT });

  // test all, with each check explained.
  await page.locator('#run-tests').click();
  await page.locator('#tests strong', { hasText: 'Passed' }).waitFor({ timeout: 60_000 });
  assert.ok(await page.locator('#tests details summary', { hasText: 'Explain' }).count() > 20);

  await page.screenshot({ path: path.join(shots, 'console-1280x800.png') });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: path.join(shots, 'console-narrow-390.png'), fullPage: true });
  const wide = await page.evaluate(() => [...document.querySelectorAll('body *')]
    .filter((e) => e.getBoundingClientRect().right > 391)
    .map((e) => `${e.tagName}#${e.id}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`));
  assert.deepEqual(wide, [], 'no sideways scrolling on a narrow window');
  await page.setViewportSize({ width: 1280, height: 800 });

  // Deprovision from the page.
  await page.locator(`#deprovision-${uuid}`).click();
  await card.locator('.badge', { hasText: /^deprovisioned$/ }).waitFor({ timeout: WAIT });

  // The service's own output, live in the page.
  await page.locator('#output', { hasText: `listening on port ${providerPort}` }).waitFor({ timeout: WAIT });
  assert.match(await page.locator('#output-command').textContent(), /node server\.js/);

  // The log by keyboard: a call opens with Enter; its bodies indented, secrets masked.
  const grant = page.locator('#calls li', { hasText: 'POST /oauth/token' }).first();
  await grant.locator('summary').focus();
  await page.keyboard.press('Enter');
  await grant.locator('pre').first().waitFor({ state: 'visible', timeout: WAIT });
  const bodies = (await grant.locator('pre').allTextContents()).join('\n');
  assert.ok(bodies.includes(`client_secret=${LOGGED}`), bodies);
  assert.ok(bodies.includes(`"access_token": "${LOGGED}"`), bodies);

  // Provisioned here, deprovisioned in another terminal: the page follows.
  await page.getByLabel('Plan', { exact: true }).fill('test');
  await page.locator('#provision').click();
  const made = await page.locator('#status', { hasText: /\(uuid [0-9a-f-]+\): provisioned/ }).textContent({ timeout: WAIT });
  const second = made.match(/uuid ([0-9a-f-]+)/)[1];
  const other = page.locator('article.resource', { has: page.locator(`[id="title-${second}"]`) });
  await other.locator('.badge', { hasText: /^provisioned$/ }).waitFor({ timeout: WAIT });
  execFileSync(kensa, ['test', 'deprovision'], { cwd: project, env: { ...process.env, HOME: work, NO_COLOR: '1' } });
  await other.locator('.badge', { hasText: /^deprovisioned$/ }).waitFor({ timeout: WAIT });
  await other.locator('ol.timeline li', { hasText: 'deprovisioned outside this session, by kensa test deprovision' })
    .waitFor({ timeout: WAIT });
  await page.screenshot({ path: path.join(shots, 'console-after-deprovision-1280x800.png'), fullPage: true });

  assert.deepEqual(elsewhere, [], 'the page loads nothing from elsewhere');
  // Ending the session ends the page's stream: the page says so.
  dev.kill('SIGTERM');
  assert.equal(await exited, 0);
  await page.locator('#ended.shown').waitFor({ timeout: WAIT });
});
