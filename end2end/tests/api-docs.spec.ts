import { test, expect } from '@playwright/test';

// The API's reference page, /api/docs: Swagger UI served by the binary, reading the contract
// at /api/openapi.json, under the board's Content-Security-Policy (no CDN, no inline script).

test('the API reference lists the contract and opens an operation, with no CSP violation', async ({ page }) => {
  const refused: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) refused.push(m.text());
  });
  const outside: string[] = [];
  page.on('request', (r) => {
    if (!r.url().startsWith('http://127.0.0.1') && !r.url().startsWith('data:')) outside.push(r.url());
  });

  await page.goto('/api/docs');
  await expect(page).toHaveURL(/\/api\/docs\/$/);
  await expect(page.getByRole('heading', { name: /Autopilot/ })).toBeVisible();
  // Every group of the contract is there.
  for (const tag of ['issues', 'runs', 'live', 'feedback', 'sign-in', 'service']) {
    await expect(page.locator(`#operations-tag-${tag}`)).toBeVisible();
  }
  // Opening an operation shows its parameters and its answers, the error shape among them.
  const create = page.locator('#operations-issues-create_issue');
  await create.locator('.opblock-summary').click();
  await expect(create.getByText('Files an issue by the caller')).toBeVisible();
  await expect(create.locator('.responses-table')).toContainText('422');
  // Read-only: no "Try it out" button that would send requests with the reader's session.
  await expect(create.getByRole('button', { name: 'Try it out' })).toHaveCount(0);
  expect(refused).toEqual([]);
  expect(outside).toEqual([]);
  await page.screenshot({ path: 'test-results/api-docs.png', fullPage: false });
});

test('the contract is public JSON', async ({ request }) => {
  const response = await request.get('/api/openapi.json');
  expect(response.status()).toBe(200);
  const spec = await response.json();
  expect(spec.openapi).toMatch(/^3\.1\./);
  expect(Object.keys(spec.paths)).toContain('/api/autopilot/issues');
});
