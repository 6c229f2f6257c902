import { test, expect, Page, Browser } from '@playwright/test';
import { hostPort } from '../playwright.config';

// The feedback widget on other origins (host-site/serve.mjs): an allowed shop on hostPort, a
// site the board does not allow on hostPort + 1. Both pages carry hostile global CSS and a
// strict CSP. Feedback is rate limited per client address (5 a minute, and every test here
// comes from 127.0.0.1), so this file files little and runs its rate-limit test last.
const allowedSite = `http://127.0.0.1:${hostPort}/`;
const otherSite = `http://127.0.0.1:${hostPort + 1}/`;

test.describe.configure({ mode: 'serial' });

async function visitorPage(browser: Browser) {
  const context = await browser.newContext(); // a stranger: no board session
  return context.newPage();
}

const widget = (page: Page) => page.locator('autopilot-feedback');

/** Tabs through the page until the widget's button has the focus. */
async function tabToWidget(page: Page) {
  for (let i = 0; i < 10; i++) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(
      () => document.activeElement?.shadowRoot?.activeElement?.textContent ?? '',
    );
    if (focused === 'Tell us') return;
  }
  throw new Error('the widget button never got the focus');
}

async function openBoard(page: Page) {
  await page.goto('/?kind=feedback');
  await expect(page.locator('.page')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.locator('body')).toHaveAttribute('data-live', 'true');
}

test.describe('as a member watching the board', () => {
  test.use({ storageState: '.auth/member.json' });

  test('a visitor files feedback with the keyboard only and it appears live', async ({ page, browser }) => {
    await openBoard(page);
    const visitor = await visitorPage(browser);
    const errors: string[] = [];
    visitor.on('pageerror', (e) => errors.push(e.message));
    visitor.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    // Secrets in the query or fragment stay on the visitor's page.
    await visitor.goto(`${allowedSite}checkout?reset_token=s3cret#access_token=t0ken`);

    // Hostile CSS hides every button, dialog and <autopilot-feedback> on the page: not ours.
    const button = widget(visitor).getByRole('button', { name: 'Tell us' });
    await expect(button).toBeVisible();
    const box = await button.boundingBox();
    expect(box && box.width > 40 && box.height > 20 && box.height < 80).toBeTruthy();
    expect(await button.evaluate((b) => getComputedStyle(b).fontSize)).toBe('15px');

    await tabToWidget(visitor);
    await visitor.keyboard.press('Enter');
    const dialog = widget(visitor).getByRole('dialog', { name: 'Send feedback' });
    await expect(dialog).toBeVisible();
    const message = widget(visitor).getByLabel('What would you like to tell us?');
    await expect(message).toBeFocused();
    const text = `The basket forgets my socks ${Date.now()}`;
    await visitor.keyboard.type(text);
    await visitor.keyboard.press('Tab'); // Close
    await visitor.keyboard.press('Tab'); // Send
    await visitor.keyboard.press('Enter');
    await expect(widget(visitor).getByRole('status')).toHaveText('Thank you! Your feedback was sent.');
    await expect(message).toHaveValue('');

    await visitor.keyboard.press('Escape');
    await expect(dialog).toBeHidden();
    await expect(button).toBeFocused();

    // On the board: live, in the backlog, marked as feedback, with the page and the user.
    const card = page.locator('.column[data-status="backlog"] .card', { hasText: text });
    await expect(card).toBeVisible();
    await expect(card.locator('.kind-feedback')).toBeVisible();
    await page.getByRole('link', { name: text }).click();
    const drawer = page.locator('aside.drawer');
    await expect(drawer).toContainText(`Page: ${allowedSite}checkout`);
    await expect(drawer).toContainText('User: shopper@example.com');
    await expect(drawer).not.toContainText('s3cret');
    await expect(drawer).not.toContainText('t0ken');
    expect(errors).toEqual([]);
    await visitor.context().close();
  });

  test('a site the board does not allow cannot file, and the visitor is told', async ({ page, browser, request }) => {
    const visitor = await visitorPage(browser);
    await visitor.goto(otherSite);
    await widget(visitor).getByRole('button', { name: 'Tell us' }).click();
    const text = `From a site not allowed ${Date.now()}`;
    await widget(visitor).getByLabel('What would you like to tell us?').fill(text);
    await widget(visitor).getByRole('button', { name: 'Send' }).click();
    await expect(widget(visitor).getByRole('alert')).toContainText('Could not reach the feedback service');
    // The message is kept for another try.
    await expect(widget(visitor).getByLabel('What would you like to tell us?')).toHaveValue(text);
    const issues = await (await request.get('/api/autopilot/issues?kind=feedback')).json();
    expect(issues.some((i: { title: string }) => i.title === text)).toBe(false);
    await visitor.context().close();
  });

  test('a widget written for the original plugin (credentials included, data-api) still files feedback', async ({ browser, request }) => {
    const visitor = await visitorPage(browser);
    await visitor.goto(`${allowedSite}original.html`);
    const text = `From the old widget ${Date.now()}`;
    const answer = await visitor.evaluate((message) => (window as any).sendAsTheOriginalDoes(message), text);
    expect(answer).toEqual({ status: 'received', ok: true });
    await expect(visitor.locator('#answer')).toContainText('"ok":true');
    const issues = await (await request.get('/api/autopilot/issues?kind=feedback')).json();
    expect(issues.some((i: { title: string }) => i.title === text)).toBe(true);
    await visitor.context().close();
  });

  test('offline, the widget says so and keeps the message', async ({ browser }) => {
    const visitor = await visitorPage(browser);
    await visitor.goto(allowedSite);
    await widget(visitor).getByRole('button', { name: 'Tell us' }).click();
    await widget(visitor).getByLabel('What would you like to tell us?').fill('sent from a tunnel');
    await visitor.context().setOffline(true);
    await widget(visitor).getByRole('button', { name: 'Send' }).click();
    await expect(widget(visitor).getByRole('alert')).toContainText('You seem to be offline');
    await expect(widget(visitor).getByLabel('What would you like to tell us?')).toHaveValue('sent from a tunnel');
    await visitor.context().close();
  });

  test('status changes of my issues show as toasts in our app (sdk.js)', async ({ page, playwright }) => {
    // "Our app": a page on the board's origin, where the member's session is.
    await page.goto('/healthz');
    await page.addScriptTag({ url: '/autopilot/sdk.js' });
    const mine = await (await page.request.post('/api/autopilot/issues', { data: { title: 'Toast me' } })).json();
    const admin = await playwright.request.newContext({
      baseURL: page.url().replace('/healthz', ''),
      storageState: '.auth/admin.json',
      extraHTTPHeaders: { Origin: new URL(page.url()).origin },
    });
    // Wait for the SDK's stream to be open, then let someone else move the issue.
    await expect.poll(() => page.evaluate(() => !!document.querySelector('autopilot-toasts'))).toBe(true);
    await page.waitForTimeout(500);
    const moved = await admin.post(`/api/autopilot/issues/${mine.id}/status`, { data: { status: 'ready' } });
    expect(moved.status()).toBe(200);
    const toast = page.locator('autopilot-toasts li');
    await expect(toast).toContainText(`#${mine.id} Toast me`);
    await expect(toast).toContainText('from Backlog to Ready');
    await expect(toast.getByRole('link')).toHaveAttribute('href', new RegExp(`/\\?issue=${mine.id}$`));
    await admin.dispose();
  });
});

test.describe('as an admin', () => {
  test.use({ storageState: '.auth/admin.json' });

  test('turning the public route off refuses feedback with a clear message', async ({ page, browser }) => {
    await page.goto('/admin');
    await expect(page.locator('.page')).toHaveAttribute('data-hydrated', 'true');
    await page.getByRole('button', { name: 'Turn feedback off' }).click();
    await expect(page.locator('.switch-state')).toHaveAttribute('data-feedback-open', 'false');

    const visitor = await visitorPage(browser);
    await visitor.goto(allowedSite);
    await widget(visitor).getByRole('button', { name: 'Tell us' }).click();
    await widget(visitor).getByLabel('What would you like to tell us?').fill('is anyone there?');
    await widget(visitor).getByRole('button', { name: 'Send' }).click();
    await expect(widget(visitor).getByRole('alert')).toContainText('feedback is turned off on this board');

    await page.getByRole('button', { name: 'Turn feedback on' }).click();
    await expect(page.locator('.switch-state')).toHaveAttribute('data-feedback-open', 'true');
    await visitor.context().close();
  });

  test('too many messages: the visitor is asked to wait (runs last: it uses up the limit)', async ({ browser }) => {
    const visitor = await visitorPage(browser);
    await visitor.goto(allowedSite);
    await widget(visitor).getByRole('button', { name: 'Tell us' }).click();
    const box = widget(visitor).getByLabel('What would you like to tell us?');
    const send = widget(visitor).getByRole('button', { name: 'Send' });
    for (let i = 0; i < 6; i++) {
      await box.fill(`message ${i}`);
      await send.click();
      await expect(send).toBeEnabled();
      if (await widget(visitor).getByRole('alert').count()) break;
    }
    await expect(widget(visitor).getByRole('alert')).toContainText(/Too many messages right now\. Please try again in \d+ seconds\./);
    await visitor.context().close();
  });
});
