import { test, expect, Page, BrowserContext } from '@playwright/test';
import { hostPort } from '../playwright.config';
import { openBoard, createIssue } from '../board-helpers';

// Security headers as Chromium applies them: the board refuses to be framed by another site,
// and using its pages (with JavaScript on and off) reports no Content-Security-Policy
// violation: what hydrates them carries the response's nonce, nothing else tries to run.

/** Collects CSP violations: the page's own events, and what Chromium logs about them. */
function watchViolations(context: BrowserContext, page: Page) {
  const seen: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) seen.push(m.text());
  });
  context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) =>
      console.error(`Refused to load: CSP ${e.violatedDirective} ${e.blockedURI}`),
    );
  });
  return seen;
}

test('another site cannot frame the board', async ({ browser }) => {
  const context = await browser.newContext({ storageState: '.auth/admin.json' });
  const page = await context.newPage();
  await page.goto(`http://127.0.0.1:${hostPort}/frame.html`);
  // The plain answer in the second frame loads (framing works at all) …
  await expect(page.frameLocator('#plain').locator('body')).toHaveText('ok');
  // … while the board's frame stays empty: no page, no cards, no buttons to be tricked into.
  const frame = await (await page.locator('#board').elementHandle())?.contentFrame();
  await page.waitForTimeout(500);
  expect(await frame?.locator('.page').count()).toBe(0);
  // Chromium shows its own error page in place of a page that refuses to be framed.
  expect(frame?.url()).toMatch(/^chrome-error:/);
  await context.close();
});

test('the violation watcher sees one when there is one (its control)', async ({ browser }) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const violations = watchViolations(context, page);
  await page.goto('/login');
  await page.evaluate(() => document.body.insertAdjacentHTML('beforeend', '<img src="http://elsewhere.invalid/x.png" alt="">'));
  await expect.poll(() => violations.length).toBeGreaterThan(0);
  await context.close();
});

for (const javaScriptEnabled of [true, false]) {
  const mode = javaScriptEnabled ? 'JavaScript on' : 'JavaScript off';

  test(`no CSP violation on the board, the drawer and the admin pages (${mode})`, async ({ browser }) => {
    const context = await browser.newContext({ storageState: '.auth/admin.json', javaScriptEnabled });
    const page = await context.newPage();
    const violations = watchViolations(context, page);
    const issue = await createIssue(context.request, `CSP check ${Date.now()}`, { body: '**bold** and `code`' });
    if (javaScriptEnabled) {
      await openBoard(page);
      const title = `From the CSP test ${Date.now()}`;
      await page.getByPlaceholder('What needs doing?').fill(title);
      await page.getByRole('button', { name: 'Add issue' }).click();
      await expect(page.locator('.card', { hasText: title })).toBeVisible();
      await page.locator(`.card[data-id="${issue.id}"] a`).first().click();
      await expect(page.locator('.drawer')).toContainText('CSP check');
    } else {
      await page.goto('/');
      await page.goto(`/?issue=${issue.id}`);
      await expect(page.locator('.drawer')).toContainText('CSP check');
    }
    for (const path of [`/issues/${issue.id}`, '/admin', '/admin/users', '/admin/runner']) {
      const answer = await page.goto(path);
      expect(answer?.status(), path).toBe(200);
      expect(answer?.headers()['content-security-policy'], path).toContain("frame-ancestors 'none'");
      if (javaScriptEnabled) await expect(page.locator('.page')).toHaveAttribute('data-hydrated', 'true');
    }
    expect(violations).toEqual([]);
    await context.close();
  });

  test(`no CSP violation on sign-in and set-up (${mode})`, async ({ browser }) => {
    const context = await browser.newContext({ javaScriptEnabled });
    const page = await context.newPage();
    const violations = watchViolations(context, page);
    for (const path of ['/login', '/setup']) {
      const answer = await page.goto(path);
      expect(answer?.headers()['x-frame-options'], path).toBe('DENY');
    }
    await page.goto('/login');
    await page.getByLabel('Email').fill('member@example.com');
    await page.getByLabel('Password').fill('e2e password 123');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/$/);
    if (javaScriptEnabled) await expect(page.locator('.page')).toHaveAttribute('data-hydrated', 'true');
    expect(violations).toEqual([]);
    await context.close();
  });
}

test('a kept board page runs its scripts by their hashes, served again and on a reload', async ({ browser }) => {
  const context = await browser.newContext({ storageState: '.auth/admin.json' });
  const page = await context.newPage();
  const violations = watchViolations(context, page);
  // Other tests change the board at any time: a change makes a new page, kept in its turn.
  for (let i = 0; i < 2; i++) {
    const answer = await page.goto('/');
    const policy = answer?.headers()['content-security-policy'] ?? '';
    expect(policy).toContain("'sha256-");
    expect(policy).not.toContain("'nonce-");
    await expect(page.locator('.page')).toHaveAttribute('data-hydrated', 'true');
  }
  // A reload sends the page's ETag back; a 304 shows the copy the browser holds.
  await page.reload();
  await expect(page.locator('.page')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.locator('body')).toHaveAttribute('data-live', 'true');
  expect(violations).toEqual([]);
  await context.close();
});
