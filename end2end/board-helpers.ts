// What the board's Playwright tests share: opening the board, filing an issue, finding cards.
import { expect, Page, APIRequestContext } from '@playwright/test';

/** Opens the board and waits until it is hydrated and listening for live changes. */
export async function openBoard(page: Page, url = '/') {
  await page.goto(url);
  // Hydrated (an Effect that only runs in the browser) and listening for live changes.
  await expect(page.locator('.page')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.locator('body')).toHaveAttribute('data-live', 'true');
}

export async function createIssue(request: APIRequestContext, title: string, extra: object = {}) {
  const response = await request.post('/api/autopilot/issues', { data: { title, ...extra } });
  expect(response.status()).toBe(201);
  return response.json();
}

export const column = (page: Page, status: string) => page.locator(`.column[data-status="${status}"]`);
export const cardIn = (page: Page, status: string, id: number) =>
  column(page, status).locator(`.card[data-id="${id}"]`);

/** Resolves once the board's next move has been answered: a drop shows the card in its new
 * place at once, before the server has it, so wait for this before reloading. */
export const moveAnswered = (page: Page) => page.waitForResponse((r) => r.url().includes('move_issue'));
