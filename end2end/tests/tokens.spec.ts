import { test, expect } from '@playwright/test';

// /account/tokens: a member makes a read-only token, which reads (200) and cannot write
// (403 naming the scope), then revokes it (401 after).
test.describe('as a member', () => {
  test.use({ storageState: '.auth/member.json' });

  test('a read-only token reads, cannot write, and is revoked', async ({ page, playwright, baseURL }) => {
    await page.goto('/');
    await page.getByRole('link', { name: 'Tokens' }).click();
    await expect(page).toHaveURL(/\/account\/tokens$/);
    await expect(page.locator('.page')).toHaveAttribute('data-hydrated', 'true');

    const name = `reader${Date.now()}`;
    const form = page.locator('form.new-token');
    await form.getByLabel('Name').fill(name);
    // `read` is ticked by default; the others stay off.
    await expect(form.locator('input[name="scope_read"]')).toBeChecked();
    await expect(form.locator('input[name="scope_write"]')).not.toBeChecked();
    await form.getByLabel('Expires').selectOption('30');
    await form.getByRole('button', { name: 'Create token' }).click();
    const secret = page.locator('.new-token-shown code.secret');
    await expect(secret).toHaveText(/^ap_[0-9a-f]{64}$/);
    const token = (await secret.textContent()) ?? '';
    const row = page.locator(`tr[data-token="${name}"]`);
    await expect(row).toContainText('read');
    await expect(row).not.toContainText('write');

    // A client of its own: no cookie, only the token.
    const api = await playwright.request.newContext({
      baseURL,
      extraHTTPHeaders: { Authorization: `Bearer ${token}` },
    });
    const read = await api.get('/api/autopilot/issues');
    expect(read.status()).toBe(200);
    const write = await api.post('/api/autopilot/issues', { data: { title: 'from a read token' } });
    expect(write.status()).toBe(403);
    expect((await write.json()).error.message).toBe('this token lacks the "write" scope');

    await row.getByRole('button', { name: `Revoke ${name}` }).click();
    await expect(row).toHaveCount(0);
    const after = await api.get('/api/autopilot/issues');
    expect(after.status()).toBe(401);
    await api.dispose();
  });
});

// An admin ends all of someone's sessions from /admin/users: their open page is signed out.
test.describe('as an admin', () => {
  test.use({ storageState: '.auth/admin.json' });

  test('"End all sessions" signs the person out everywhere', async ({ page, browser }) => {
    await page.goto('/admin/users');
    await expect(page.locator('.page')).toHaveAttribute('data-hydrated', 'true');
    const email = `ended${Date.now()}@example.com`;
    const form = page.locator('form.add-user');
    await form.getByLabel('Name').fill('Eve Ended');
    await form.getByLabel('Email').fill(email);
    await form.getByLabel('Password').fill('a long enough password');
    await form.getByRole('button', { name: 'Add person' }).click();
    await expect(page.locator(`tr[data-email="${email}"]`)).toContainText('Eve Ended');

    // Eve signs in on a browser of her own.
    const eve = await browser.newContext({ storageState: { cookies: [], origins: [] } });
    const evePage = await eve.newPage();
    await evePage.goto('/login');
    await evePage.getByLabel('Email').fill(email);
    await evePage.getByLabel('Password').fill('a long enough password');
    await evePage.getByRole('button', { name: 'Sign in' }).click();
    await expect(evePage.locator('.topbar .me')).toHaveText('Eve Ended');

    await page.getByRole('button', { name: `End all sessions of ${email}` }).click();
    await expect(page.getByRole('alert')).toHaveCount(0);
    // Her next request finds her signed out.
    await expect(async () => {
      await evePage.goto('/');
      await expect(evePage).toHaveURL(/\/login/);
    }).toPass();
    await eve.close();
  });
});
