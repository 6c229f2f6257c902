import { test, expect } from '@playwright/test';
import { spawn, ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PASSWORD = 'e2e password 123';

test('sign in, see your name, sign out', async ({ page }) => {
  await page.goto('/');
  // Anonymous: sent to the login page, which remembers where you were going.
  await expect(page).toHaveURL(/\/login\?next=\/$/);
  await page.getByLabel('Email').fill('member@example.com');
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toHaveText('That email and password do not match an account.');

  await page.getByLabel('Email').fill('member@example.com');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.locator('.topbar .me')).toHaveText('Max Member');
  await expect(page.getByRole('link', { name: 'People' })).toHaveCount(0);

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login\?signed_out=1/);
  await expect(page.getByRole('status')).toHaveText('You are signed out.');
  await page.goto('/');
  await expect(page).toHaveURL(/\/login/);
});

test.describe('as a member', () => {
  test.use({ storageState: '.auth/member.json' });

  test('the admin page is refused', async ({ page }) => {
    const response = await page.goto('/admin/users');
    expect(response?.status()).toBe(403);
    await expect(page.getByRole('heading', { name: 'Admins only' })).toBeVisible();
  });
});

test.describe('as an admin', () => {
  test.use({ storageState: '.auth/admin.json' });

  test('the people page lists everyone and adds a person', async ({ page }) => {
    await page.goto('/');
    await page.getByRole('link', { name: 'People' }).click();
    await expect(page).toHaveURL(/\/admin\/users$/);
    await expect(page.locator('.page')).toHaveAttribute('data-hydrated', 'true');
    await expect(page.locator('tr[data-email="member@example.com"]')).toContainText('member');

    const email = `new${Date.now()}@example.com`;
    const form = page.locator('form.add-user');
    await form.getByLabel('Name').fill('Nia New');
    await form.getByLabel('Email').fill(email);
    await form.getByLabel('Password').fill('short');
    // The browser's own check stops a short password; the server's rule is tested in Rust.
    await form.getByLabel('Password').fill('a long enough password');
    await form.getByRole('button', { name: 'Add person' }).click();
    await expect(page.locator(`tr[data-email="${email}"]`)).toContainText('Nia New');
    await page.screenshot({ path: 'test-results/people.png', fullPage: true });
  });
});

test('first run: the set-up link creates the first admin, once', async ({ browser }) => {
  // A server of its own on an empty database, to read the set-up link from its log.
  const dir = mkdtempSync(join(tmpdir(), 'autopilot-setup-'));
  const port = 3127;
  const server: ChildProcess = spawn('./target/debug/autopilot', [
    'serve', '--addr', `127.0.0.1:${port}`, '--database-url', `sqlite://${join(dir, 'a.db')}`,
  ], { cwd: '..', env: { ...process.env, RUST_LOG: 'warn' } });
  try {
    const link = await new Promise<string>((resolve, reject) => {
      let log = '';
      const timer = setTimeout(() => reject(new Error(`no set-up link in: ${log}`)), 20_000);
      server.stderr!.on('data', (chunk) => {
        log += chunk.toString();
        const match = log.match(/(http:\/\/\S+\/setup\?token=[0-9a-f]+)/);
        if (match) { clearTimeout(timer); resolve(match[1]); }
      });
    });
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/`);
    await expect(page).toHaveURL(/\/setup$/);
    await page.goto(link);
    await page.getByLabel('Your name').fill('First Admin');
    await page.getByLabel('Email').fill('first@example.com');
    await page.getByLabel('Password (12 characters or more)').fill('first admin password');
    await page.getByRole('button', { name: 'Create admin and sign in' }).click();
    await expect(page).toHaveURL(`http://127.0.0.1:${port}/`);
    await expect(page.locator('.topbar .me')).toHaveText('First Admin');
    // The link is spent.
    await page.goto(link);
    await expect(page).toHaveURL(/\/$|\/login/);
    const other = await browser.newPage();
    await other.goto(link);
    await expect(other).toHaveURL(/\/login$/);
  } finally {
    server.kill('SIGTERM');
  }
});
