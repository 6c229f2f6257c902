import { test, expect } from '@playwright/test';
import { createServer, Server } from 'node:http';

// An admin adds a webhook endpoint on /admin/webhooks, sees its secret once, sends a test
// event that a receiver gets, reads the delivery log, sees a failing receiver's error and
// redelivers, and turns the endpoint off; a bad URL is refused with the reason.
const receiverPort = 3141;
let receiver: Server;
let answer = 200;
const got: { headers: Record<string, unknown>; body: any }[] = [];

test.beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      if (answer < 300) got.push({ headers: req.headers, body: JSON.parse(body) });
      res.writeHead(answer, { 'content-type': 'text/plain' });
      res.end(answer < 300 ? 'thanks' : 'receiver is down for maintenance');
    });
  });
  await new Promise<void>((ok) => receiver.listen(receiverPort, '127.0.0.1', ok));
});

test.afterAll(() => receiver?.close());

test.describe('webhooks', () => {
  test.use({ storageState: '.auth/admin.json' });

  test('an admin adds an endpoint, tests it, reads its log, redelivers and turns it off', async ({ page }) => {
    await page.goto('/admin/webhooks');
    await expect(page.locator('.page')).toHaveAttribute('data-hydrated', 'true');
    await expect(page.getByRole('heading', { name: 'Webhooks' })).toBeVisible();
    const form = page.locator('form.add-webhook');

    // A URL the server refuses: the reason, and nothing added.
    await form.getByLabel('URL').fill('ftp://files.example/hook');
    await form.getByRole('button', { name: 'Add endpoint' }).click();
    await expect(page.getByRole('alert')).toContainText('must start with https:// or http://');
    await expect(page.locator('table.webhook-endpoints')).toHaveCount(0);

    await form.getByLabel('URL').fill(`http://127.0.0.1:${receiverPort}/hook`);
    await form.getByLabel('Description').fill('Team dashboard');
    await form.getByLabel('issue created').check();
    await form.getByLabel('Allow private network addresses').check();
    await form.getByRole('button', { name: 'Add endpoint' }).click();
    const secret = page.locator('.webhook-secret code');
    await expect(secret).toHaveText(/^whsec_[A-Za-z0-9+/=]{40,}$/);
    const row = page.locator('table.webhook-endpoints tbody tr').first();
    await expect(row).toHaveAttribute('data-state', 'active');
    await expect(row).toContainText('Team dashboard');
    await expect(row).toContainText('issue.created');

    // A test event reaches the receiver, signed; the log says delivered.
    await row.getByRole('button', { name: 'Send test event' }).click();
    await expect.poll(() => got.length).toBeGreaterThan(0);
    expect(got[0].body.type).toBe('ping');
    expect(String(got[0].headers['webhook-signature'])).toMatch(/^v1,/);
    await row.getByRole('button', { name: 'Delivery log' }).click();
    const log = page.locator('section.delivery-log');
    await expect(log.locator('tbody tr').first()).toHaveAttribute('data-state', 'delivered');
    await expect(log.locator('tbody tr').first()).toContainText('ping');
    await expect(log.locator('tbody tr').first()).toContainText('thanks');
    await page.screenshot({ path: 'test-results/webhooks-delivered.png', fullPage: true });

    // The receiver fails: the log shows its answer, and the delivery waits for a retry.
    answer = 503;
    await row.getByRole('button', { name: 'Send test event' }).click();
    await expect(async () => {
      await log.getByRole('button', { name: 'Refresh' }).click();
      await expect(log.locator('tbody tr').first()).toContainText('503', { timeout: 1000 });
    }).toPass({ timeout: 15_000 });
    await expect(log.locator('tbody tr').first()).toHaveAttribute('data-state', 'pending');
    await expect(log.locator('tbody tr').first()).toContainText('receiver is down');
    await page.reload();
    await expect(page.locator('.page')).toHaveAttribute('data-hydrated', 'true');
    await expect(page.locator('table.webhook-endpoints tbody tr').first()).toContainText('Last error: 503');
    await page.screenshot({ path: 'test-results/webhooks-failing.png', fullPage: true });

    // Fixed: retry now sends what waited; redeliver sends the first again, same id.
    answer = 200;
    const before = got.length;
    await page.locator('table.webhook-endpoints tbody tr').first().getByRole('button', { name: 'Retry now' }).click();
    await expect.poll(() => got.length).toBe(before + 1);
    await page.locator('table.webhook-endpoints tbody tr').first().getByRole('button', { name: 'Delivery log' }).click();
    await page.locator('section.delivery-log tbody tr').last().getByRole('button', { name: 'Redeliver' }).click();
    await expect.poll(() => got.length).toBe(before + 2);
    expect(got[got.length - 1].headers['webhook-id']).toBe(got[0].headers['webhook-id']);

    // Off: the row says so.
    await page.locator('table.webhook-endpoints tbody tr').first().getByRole('button', { name: 'Turn off' }).click();
    await expect(page.locator('table.webhook-endpoints tbody tr').first()).toHaveAttribute('data-state', 'off');
  });

  test('a member cannot open the page', async ({ browser }) => {
    const member = await (await browser.newContext({ storageState: '.auth/member.json' })).newPage();
    const res = await member.goto('/admin/webhooks');
    expect(res?.status()).toBe(403);
  });
});
