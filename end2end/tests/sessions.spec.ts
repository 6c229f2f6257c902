import { test, expect, Browser } from '@playwright/test';

// /account/sessions: a person signed in on a laptop and a phone sees both, and ends the
// phone's from the laptop; the phone's next page is the sign-in page.
test.use({ storageState: '.auth/admin.json' });

const PASSWORD = 'a long enough password';
const LAPTOP = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
const PHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';

async function signInAs(browser: Browser, email: string, userAgent: string) {
  const context = await browser.newContext({ storageState: { cookies: [], origins: [] }, userAgent });
  const page = await context.newPage();
  await page.goto('/login');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.locator('.topbar .me')).toHaveText('Sam Sessions');
  return { context, page };
}

test('a person ends the session on their other device', async ({ page, browser }) => {
  // A person of this test's own: ending "other sessions" touches nobody else's.
  await page.goto('/admin/users');
  await expect(page.locator('.page')).toHaveAttribute('data-hydrated', 'true');
  const email = `sessions${Date.now()}@example.com`;
  const form = page.locator('form.add-user');
  await form.getByLabel('Name').fill('Sam Sessions');
  await form.getByLabel('Email').fill(email);
  await form.getByLabel('Password').fill(PASSWORD);
  await form.getByRole('button', { name: 'Add person' }).click();
  await expect(page.locator(`tr[data-email="${email}"]`)).toContainText('Sam Sessions');

  const phone = await signInAs(browser, email, PHONE);
  const laptop = await signInAs(browser, email, LAPTOP);
  await laptop.page.getByRole('link', { name: 'Sessions' }).click();
  await expect(laptop.page).toHaveURL(/\/account\/sessions$/);
  await expect(laptop.page.locator('.page')).toHaveAttribute('data-hydrated', 'true');

  const rows = laptop.page.locator('table.sessions tbody tr');
  await expect(rows).toHaveCount(2);
  const current = laptop.page.locator('table.sessions tr.current');
  await expect(current).toContainText('Firefox on Linux');
  await expect(current).toContainText('This session');
  const other = laptop.page.locator('table.sessions tbody tr:not(.current)');
  await expect(other).toContainText('Safari on iPhone');
  await laptop.page.screenshot({ path: 'test-results/account-sessions.png', fullPage: true });

  await other.getByRole('button', { name: /^End the session on Safari on iPhone/ }).click();
  await expect(rows).toHaveCount(1);
  await expect(laptop.page.getByRole('alert')).toHaveCount(0);
  await expect(laptop.page.getByRole('button', { name: 'End all other sessions' })).toHaveCount(0);

  // The phone is signed out; the laptop is not.
  await phone.page.goto('/');
  await expect(phone.page).toHaveURL(/\/login/);
  await laptop.page.goto('/');
  await expect(laptop.page.locator('.topbar .me')).toHaveText('Sam Sessions');

  // "End all other sessions" after signing in on the phone once more.
  const again = await signInAs(browser, email, PHONE);
  await laptop.page.goto('/account/sessions');
  await expect(laptop.page.locator('.page')).toHaveAttribute('data-hydrated', 'true');
  await expect(rows).toHaveCount(2);
  await laptop.page.getByRole('button', { name: 'End all other sessions' }).click();
  await expect(laptop.page.getByRole('status').filter({ hasText: '1 other session ended.' })).toBeVisible();
  await expect(rows).toHaveCount(1);
  await again.page.goto('/');
  await expect(again.page).toHaveURL(/\/login/);

  for (const c of [phone, laptop, again]) await c.context.close();
});
