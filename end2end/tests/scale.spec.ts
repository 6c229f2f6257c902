import { test, expect, Page } from '@playwright/test';
import { openBoard, createIssue, column, cardIn } from '../board-helpers';

// A board bigger than what it shows: Ready holds 500 more cards than the 50 it shows first.
// This file runs last (by name): the boards of the other files stay small.

test.use({ storageState: '.auth/member.json' });
test.describe.configure({ mode: 'serial' });

const countOf = async (page: Page, status: string) =>
  Number(await column(page, status).locator('.count').textContent());

test.beforeAll(async ({ playwright }) => {
  const request = await playwright.request.newContext({
    baseURL: test.info().project.use.baseURL,
    storageState: '.auth/member.json',
  });
  for (let batch = 0; batch < 20; batch++) {
    await Promise.all(Array.from({ length: 25 }, (_, i) =>
      createIssue(request, `Bulk ${batch * 25 + i}`, { status: 'ready', human_only: true })));
  }
  await request.dispose();
});

test('a 500-card column shows its first 50; scrolling down loads more, and so does "Show 50 more"', async ({ page }) => {
  await openBoard(page);
  const ready = column(page, 'ready');
  const total = await countOf(page, 'ready');
  expect(total).toBeGreaterThanOrEqual(500);
  await expect(ready.locator('.card')).toHaveCount(50);
  await expect(ready.locator('.show-more')).toHaveText(`Show 50 more (50 of ${total})`);
  // Scrolling to the end of what is shown loads the next 50, where the person is.
  await ready.locator('.show-more').scrollIntoViewIfNeeded();
  await page.mouse.wheel(0, 200);
  await expect(ready.locator('.card')).toHaveCount(100);
  await expect(page).toHaveURL(/ready=100/);
  await expect(ready.locator('.show-more')).toHaveText(`Show 50 more (100 of ${total})`);
  // The link does the same, for keyboards (focusing it scrolls it into view, which may load
  // the next 50 as well).
  await ready.locator('.show-more').focus();
  await page.keyboard.press('Enter');
  await expect.poll(() => ready.locator('.card').count()).toBeGreaterThanOrEqual(150);
  await expect(page).toHaveURL(/ready=(150|200)/);
  expect(await countOf(page, 'ready')).toBe(total);
  // The first cards are still the first (by position), in order.
  const firstIds = await ready.locator('.card').evaluateAll((cards) => cards.slice(0, 3).map((c) => c.getAttribute('data-id')));
  await page.goto('/');
  const again = await column(page, 'ready').locator('.card').evaluateAll((cards) => cards.slice(0, 3).map((c) => c.getAttribute('data-id')));
  expect(again).toEqual(firstIds);
  await page.screenshot({ path: 'test-results/big-column.png' });
});

// Chromium starts a drag on the first mouse move, after Playwright has scrolled to the drop
// target; on a long page the card under the pointer by then is another one. A page tall
// enough for the whole board never scrolls.
const tall = { width: 1400, height: 7000 };

test('moving a card into a column that shows only its first cards, and out of it', async ({ page, request }) => {
  await page.setViewportSize(tall);
  const incoming = await createIssue(request, `Incoming ${Date.now()}`);
  const onTop = await createIssue(request, `On top ${Date.now()}`);
  await openBoard(page);
  const ready = column(page, 'ready');
  const total = await countOf(page, 'ready');

  // Dropped on the column, it goes last: out of sight, counted, and the board says where.
  await cardIn(page, 'backlog', incoming.id).dragTo(ready.locator('h2'));
  await expect(ready.locator('.count')).toHaveText(String(total + 1));
  await expect(page.locator('.notice-bar')).toContainText(`#${incoming.id} is now last in Ready, below the cards shown`);
  await expect(cardIn(page, 'ready', incoming.id)).toHaveCount(0);
  await expect(ready.locator('.card')).toHaveCount(50);
  const moved = await (await request.get(`/api/autopilot/issues/${incoming.id}`)).json();
  expect(moved.status).toBe('ready');

  // Dropped on the first card shown, it goes above it, in sight.
  const first = ready.locator('.card').first();
  const firstId = Number(await first.getAttribute('data-id'));
  await cardIn(page, 'backlog', onTop.id).dragTo(first);
  await expect(ready.locator('.card').first()).toHaveAttribute('data-id', String(onTop.id));
  await expect(ready.locator('.card').nth(1)).toHaveAttribute('data-id', String(firstId));
  await expect(ready.locator('.count')).toHaveText(String(total + 2));

  // Out again: a shown card of the long column goes to In progress (it is human work).
  const human = ready.locator('.card', { has: page.locator('.human-only') }).first();
  const humanId = Number(await human.getAttribute('data-id'));
  await human.dragTo(column(page, 'in_progress'));
  await expect(cardIn(page, 'in_progress', humanId)).toBeVisible();
  await expect(ready.locator('.count')).toHaveText(String(total + 1));
  await page.reload();
  await expect(cardIn(page, 'in_progress', humanId)).toBeVisible();
  await expect(ready.locator('.card').first()).toHaveAttribute('data-id', String(onTop.id));
});

test('a live move arriving in a column that shows only its first cards', async ({ page, browser, request }) => {
  await page.setViewportSize(tall);
  const late = await createIssue(request, `Late ${Date.now()}`);
  const early = await createIssue(request, `Early ${Date.now()}`);
  await openBoard(page);
  const ready = column(page, 'ready');
  const total = await countOf(page, 'ready');
  const firstId = await ready.locator('.card').first().getAttribute('data-id');

  // Someone moves a card to the end of Ready: this board counts it and shows it nowhere.
  const r = await request.post(`/api/autopilot/issues/${late.id}/status`, { data: { status: 'ready' } });
  expect(r.status()).toBe(200);
  await expect(ready.locator('.count')).toHaveText(String(total + 1));
  await expect(cardIn(page, 'backlog', late.id)).toHaveCount(0);
  await expect(cardIn(page, 'ready', late.id)).toHaveCount(0);
  await expect(ready.locator('.card')).toHaveCount(50);

  // Someone else drops a card on top of Ready: it shows here, on top, without a reload.
  const other = await browser.newContext({ storageState: '.auth/admin.json', viewport: tall });
  const theirs = await other.newPage();
  await openBoard(theirs);
  await cardIn(theirs, 'backlog', early.id).dragTo(column(theirs, 'ready').locator('.card').first());
  await expect(ready.locator('.card').first()).toHaveAttribute('data-id', String(early.id));
  await expect(ready.locator('.card').nth(1)).toHaveAttribute('data-id', firstId ?? '');
  await expect(ready.locator('.count')).toHaveText(String(total + 2));
  await other.close();
});

test('without JavaScript, "Show 50 more" is a plain link that shows more', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false, storageState: '.auth/member.json' });
  const page = await context.newPage();
  await page.goto('/');
  const ready = column(page, 'ready');
  await expect(ready.locator('.card')).toHaveCount(50);
  // Followed from the keyboard: a click aims at a point, and the cards scrolled past on the
  // way (laid out only once seen: `content-visibility: auto`) can still move the link from
  // under it (a CI run clicked beside it and nothing happened).
  await ready.getByRole('link', { name: /Show 50 more/ }).press('Enter');
  await expect(page).toHaveURL(/ready=100/);
  await expect(ready.locator('.card')).toHaveCount(100);
  await context.close();
});
