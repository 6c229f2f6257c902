import { test, expect, Browser } from '@playwright/test';
import { spawn, execFileSync, ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { port } from '../playwright.config';

// Single sign-on in Chromium against a real OpenID provider: panva's oidc-provider
// (oidc/provider.mjs), with its own login and consent pages. This file starts the provider and
// a board of its own that signs in through it (the shared board has no provider).
const root = resolve(__dirname, '..', '..');
const providerPort = port + 20;
const boardPort = port + 21;
const issuer = `http://127.0.0.1:${providerPort}`;
const board = `http://127.0.0.1:${boardPort}`;

let provider: ChildProcess;
let server: ChildProcess;

async function up(url: string) {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} never answered`);
}

test.beforeAll(async () => {
  provider = spawn('node', [join(root, 'end2end/oidc/provider.mjs')], {
    env: { ...process.env, OIDC_PORT: String(providerPort), OIDC_REDIRECT_URI: `${board}/auth/oidc/callback` },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await up(`${issuer}/.well-known/openid-configuration`);
  const dir = mkdtempSync(join(tmpdir(), 'autopilot-oidc-'));
  const env = {
    ...process.env,
    DATABASE_URL: `sqlite://${dir}/board.db`,
    AUTOPILOT_PUBLIC_URL: board,
    AUTOPILOT_OIDC_ISSUER: issuer,
    AUTOPILOT_OIDC_CLIENT_ID: 'autopilot',
    AUTOPILOT_OIDC_CLIENT_SECRET: 'autopilot-test-secret',
    AUTOPILOT_OIDC_LABEL: 'Test ID',
    AUTOPILOT_OIDC_ALLOWED_DOMAINS: 'example.com',
    AUTOPILOT_OIDC_ADMIN_GROUPS: 'autopilot-admins',
    AUTOPILOT_PASSWORD: 'e2e password 123',
    RUST_LOG: 'warn',
  };
  const autopilot = join(root, 'target/debug/autopilot');
  server = spawn(autopilot, ['serve', '--addr', `127.0.0.1:${boardPort}`], { env, cwd: root, stdio: 'inherit' });
  await up(`${board}/healthz`);
  // A password admin too, so the board is past its first-run set-up.
  execFileSync(autopilot, ['user', 'add', '--email', 'root@example.com', '--name', 'Root', '--role', 'admin'], { env, cwd: root });
});

test.afterAll(() => {
  server?.kill();
  provider?.kill();
});

/// Signs in as `login` at the provider, in a fresh browser context; returns its page.
async function signIn(browser: Browser, login: string) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${board}/login`);
  await page.getByRole('link', { name: 'Sign in with Test ID' }).click();
  // The provider's own pages.
  await expect(page).toHaveURL(new RegExp(`^${issuer}/interaction/`));
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('any password');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  await page.getByRole('button', { name: 'Continue' }).click();
  return page;
}

test('a person signs in through the provider, an admin group makes an admin, keys rotate mid-test', async ({ browser }) => {
  const bob = await signIn(browser, 'bob');
  await expect(bob).toHaveURL(`${board}/`);
  await expect(bob.locator('.topbar .me')).toHaveText('Bob Member');
  await expect(bob.getByRole('link', { name: 'People' })).toHaveCount(0);

  // The provider signs with a new key from now on: the board fetches its keys again.
  expect((await fetch(`${issuer}/__test/rotate`, { method: 'POST' })).status).toBe(204);
  const ada = await signIn(browser, 'ada');
  await expect(ada).toHaveURL(`${board}/`);
  await expect(ada.locator('.topbar .me')).toHaveText('Ada Admin');
  await ada.goto(`${board}/admin/users`);
  await expect(ada.getByRole('heading', { name: 'People' })).toBeVisible();
  await expect(ada.locator('tr[data-email="ada@example.com"]')).toContainText('admin');
  await expect(ada.locator('tr[data-email="bob@example.com"]')).toContainText('member');
});

test('a person outside the allowed domain is refused and nothing is made', async ({ browser }) => {
  const eve = await signIn(browser, 'eve');
  await expect(eve.getByRole('heading', { name: 'You are not allowed in' })).toBeVisible();
  await eve.goto(`${board}/`);
  await expect(eve).toHaveURL(/\/login/);
  // The break-glass admin signs in with the password and sees no account for her.
  const root = await (await browser.newContext()).newPage();
  await root.goto(`${board}/login`);
  await root.getByLabel('Email').fill('root@example.com');
  await root.getByLabel('Password').fill('e2e password 123');
  await root.getByRole('button', { name: 'Sign in' }).click();
  await root.goto(`${board}/admin/users`);
  await expect(root.locator('tr[data-email="root@example.com"]')).toBeVisible();
  await expect(root.locator('tr[data-email="eve@elsewhere.test"]')).toHaveCount(0);
});
