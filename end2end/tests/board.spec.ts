import { test, expect } from '@playwright/test';

test.use({ storageState: '.auth/member.json' });

async function openBoard(page) {
  await page.goto('/');
  // Hydrated: the Effect that sets this only runs in the browser.
  await expect(page.locator('.page')).toHaveAttribute('data-hydrated', 'true');
}

test('the board shows its six columns', async ({ page }) => {
  await openBoard(page);
  const headings = page.locator('.column h2');
  await expect(headings).toHaveCount(6);
  await expect(page.locator('.column').first()).toHaveAttribute('data-status', 'backlog');
});

test('an issue created on the page is there after a reload', async ({ page }) => {
  await openBoard(page);
  const title = `Smoke test ${Date.now()}`;
  await page.getByPlaceholder('What needs doing?').fill(title);
  await page.getByRole('button', { name: 'Add issue' }).click();

  const backlog = page.locator('.column[data-status="backlog"]');
  await expect(backlog.locator('.card', { hasText: title })).toBeVisible();
  // The form is ready for the next one.
  await expect(page.getByPlaceholder('What needs doing?')).toHaveValue('');

  await page.reload();
  await expect(backlog.locator('.card', { hasText: title })).toBeVisible();
});

test('a hostile title is shown as text and runs nothing', async ({ page }) => {
  let dialogs = 0;
  page.on('dialog', async (d) => { dialogs++; await d.dismiss(); });
  await openBoard(page);
  const payload = `<img src=x onerror=alert(1)> ${Date.now()}`;
  await page.getByPlaceholder('What needs doing?').fill(payload);
  await page.getByRole('button', { name: 'Add issue' }).click();
  await expect(page.locator('.card .title', { hasText: payload })).toBeVisible();
  await page.reload();
  await expect(page.locator('.card .title', { hasText: payload })).toBeVisible();
  expect(await page.locator('.card img').count()).toBe(0);
  expect(dialogs).toBe(0);
});

test('an empty title is refused with a message and nothing is filed', async ({ page, request }) => {
  await openBoard(page);
  const before = (await (await request.get('/api/autopilot/issues')).json()).length;
  // Spaces pass the browser's `required` check but not the server's rules.
  await page.getByPlaceholder('What needs doing?').fill('    ');
  await page.getByRole('button', { name: 'Add issue' }).click();
  await expect(page.getByRole('alert')).toContainText('title: must not be empty');
  const after = (await (await request.get('/api/autopilot/issues')).json()).length;
  expect(after).toBe(before);
});

test('screenshot of the board for review', async ({ page }) => {
  await openBoard(page);
  await page.screenshot({ path: 'test-results/board.png', fullPage: true });
});
