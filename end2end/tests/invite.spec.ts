import { test, expect } from '@playwright/test';

// An admin makes an invite link on /admin/users; a fresh browser (nobody signed in) opens it,
// makes an account and lands on the board; the link is refused after that.
test.describe('invitations', () => {
  test.use({ storageState: '.auth/admin.json' });

  test('an admin invites, a new person joins, the link then refuses', async ({ page, browser, baseURL }) => {
    await page.goto('/admin/users');
    await expect(page.locator('.page')).toHaveAttribute('data-hydrated', 'true');
    const form = page.locator('form.create-invite');
    await form.getByLabel('Role').selectOption('member');
    await form.getByLabel('Expires in (days)').fill('3');
    await form.getByRole('button', { name: 'Create invite link' }).click();
    const link = page.locator('a.invite-link');
    await expect(link).toBeVisible();
    const url = await link.textContent();
    expect(url).toMatch(new RegExp(`^${baseURL}/invite/inv_[0-9a-f]{64}$`));
    await expect(page.locator('table.invites tbody tr').first()).toHaveAttribute('data-state', 'open');

    // Fresh contexts, without the admin's cookies (contexts made here inherit `use`).
    const nobody = { storageState: { cookies: [], origins: [] } };
    const guest = await (await browser.newContext(nobody)).newPage();
    await guest.goto(url!);
    await expect(guest.getByRole('heading', { name: 'Join Autopilot' })).toBeVisible();
    await expect(guest.getByText('You are invited as a member')).toBeVisible();
    const email = `guest${Date.now()}@example.com`;
    await guest.getByLabel('Your name').fill('Gwen Guest');
    await guest.getByLabel('Email').fill(email);
    await guest.getByLabel('Password (12 characters or more)').fill('a long guest password');
    await guest.getByRole('button', { name: 'Create account and sign in' }).click();
    await expect(guest).toHaveURL(`${baseURL}/`);
    await expect(guest.locator('.topbar .me')).toHaveText('Gwen Guest');

    // The link works once: a third browser is refused, with a page that says so.
    const late = await (await browser.newContext(nobody)).newPage();
    const answer = await late.goto(url!);
    expect(answer?.status()).toBe(410);
    await expect(late.getByText('This invite link has been used already')).toBeVisible();

    await page.reload();
    await expect(page.locator('table.invites tbody tr').first()).toHaveAttribute('data-state', 'used');
    await expect(page.locator(`tr[data-email="${email}"]`)).toContainText('member');
  });
});
