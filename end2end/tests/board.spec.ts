import { test, expect, Page } from '@playwright/test';
import { openBoard, createIssue, column, cardIn, moveAnswered } from '../board-helpers';

test.use({ storageState: '.auth/member.json' });

/** Marks the page, so a test can tell later that no full page load happened meanwhile. */
const markPage = (page: Page) => page.evaluate(() => { (window as unknown as { kept: boolean }).kept = true; });
const pageKept = (page: Page) => page.evaluate(() => (window as unknown as { kept?: boolean }).kept === true);

test('the board shows its six columns, and nothing it loads is missing (the favicon too)', async ({ page, request }) => {
  const issue = await createIssue(request, `Loads its drawer ${Date.now()}`);
  const missing: string[] = [];
  const built: { url: string, cache: string }[] = [];
  page.on('response', (r) => {
    if (r.status() === 404) missing.push(r.url());
    if (r.url().includes('/pkg/')) built.push({ url: r.url(), cache: r.headers()['cache-control'] ?? '' });
  });
  await openBoard(page);
  const icon = await page.request.get('/favicon.svg');
  expect(icon.status()).toBe(200);
  expect(missing).toEqual([]);
  // The wasm, its JS, the loader of its chunks and the stylesheet are named after their
  // content and kept for good.
  const names = built.map((b) => new URL(b.url).pathname.split('/').pop() ?? '');
  const main = names.filter((n) => n.startsWith('autopilot.')).map((n) => n.split('.').pop()).sort();
  expect(main).toEqual(['css', 'js', 'wasm']);
  for (const b of built) {
    expect(b.url).toMatch(/\/pkg\/(autopilot|__wasm_split|chunk_\d+|split_\w+)\.[A-Za-z0-9_-]{6,}\.(css|js|wasm)$/);
    expect(b.cache).toContain('immutable');
  }
  // The drawer and the admin pages are their own chunks. The admin pages' are left until
  // they are needed; the drawer's is fetched once the board has hydrated (so a card opens
  // without waiting for it), once: opening a card does not fetch it again.
  expect(names.filter((n) => n.startsWith('split_') && !n.startsWith('split_issue_panel_'))).toEqual([]);
  await expect.poll(() => built.filter((b) => b.url.includes('/pkg/split_issue_panel')).length).toBe(1);
  await cardIn(page, 'backlog', issue.id).locator('a.title').click();
  await expect(page.locator('.drawer .facts')).toBeVisible();
  expect(built.filter((b) => b.url.includes('/pkg/split_issue_panel')).length).toBe(1);
  await expect(page.locator('.column h2')).toHaveCount(6);
  await expect(page.locator('.column').first()).toHaveAttribute('data-status', 'backlog');
});

test('an issue created on the page is there after a reload', async ({ page }) => {
  await openBoard(page);
  await markPage(page);
  const title = `Smoke test ${Date.now()}`;
  await page.getByPlaceholder('What needs doing?').fill(title);
  await page.getByRole('button', { name: 'Add issue' }).click();
  const backlog = column(page, 'backlog');
  await expect(backlog.locator('.card', { hasText: title })).toBeVisible();
  await expect(page.getByPlaceholder('What needs doing?')).toHaveValue('');
  expect(await pageKept(page), 'filed in place, not by posting the form').toBe(true);
  await page.reload();
  await expect(backlog.locator('.card', { hasText: title })).toBeVisible();
});

test('an empty title is refused with a message and nothing is filed', async ({ page, request }) => {
  await openBoard(page);
  const count = async () => (await (await request.get('/api/autopilot/issues')).json()).length;
  const before = await count();
  await page.getByPlaceholder('What needs doing?').fill('    ');
  await page.getByRole('button', { name: 'Add issue' }).click();
  await expect(page.getByRole('alert')).toContainText('title: must not be empty');
  expect(await count()).toBe(before);
});

test('an issue that depends on another says so on its card; a wrong number is refused', async ({ page, request }) => {
  await openBoard(page);
  const first = await createIssue(request, `Lay the groundwork ${Date.now()}`, { human_only: true });
  const title = `Build on it ${Date.now()}`;
  await page.getByPlaceholder('What needs doing?').fill(title);
  await page.getByPlaceholder('Depends on #…').fill(`#${first.id}`);
  await page.getByRole('button', { name: 'Add issue' }).click();
  const card = column(page, 'backlog').locator('.card', { hasText: title });
  await expect(card.locator('.waiting')).toHaveText(`waiting on #${first.id}`);
  await expect(page.getByPlaceholder('Depends on #…')).toHaveValue('');
  await page.screenshot({ path: 'test-results/depends-on.png' });

  const count = async () => (await (await request.get('/api/autopilot/issues')).json()).length;
  const before = await count();
  await page.getByPlaceholder('What needs doing?').fill('Depends on nothing real');
  await page.getByPlaceholder('Depends on #…').fill('999999');
  await page.getByRole('button', { name: 'Add issue' }).click();
  await expect(page.getByRole('alert')).toContainText('depends_on: there is no issue #999999');
  expect(await count()).toBe(before);

  // Once what it waits for is done, its card says so live, without a reload.
  for (const status of ['ready', 'in_progress', 'in_review', 'done']) {
    const moved = await request.post(`/api/autopilot/issues/${first.id}/status`, { data: { status } });
    expect(moved.status()).toBe(200);
  }
  await expect(card.locator('.waiting')).toHaveCount(0);

  // The drawer names it and edits it; the history says who changed it.
  await card.locator('a.title').click();
  const drawer = page.locator('.drawer');
  await expect(drawer.locator('.facts .depends-on')).toHaveText(`#${first.id}`);
  await drawer.locator('summary', { hasText: 'Edit' }).click();
  await drawer.getByLabel(/Depends on/).fill('');
  await drawer.getByRole('button', { name: 'Save' }).click();
  await expect(drawer.locator('.facts .depends-on')).toHaveCount(0);
  await expect(drawer.locator('.history')).toContainText(`stopped it waiting for #${first.id}`);
  await expect(card.locator('.waiting')).toHaveCount(0);
});

test('an issue can ask for one of the allowed models; the card and the drawer say which', async ({ page }) => {
  await openBoard(page);
  const title = `Needs the big model ${Date.now()}`;
  await page.getByPlaceholder('What needs doing?').fill(title);
  await page.getByLabel('Model').selectOption('claude-opus-4-1');
  await page.getByRole('button', { name: 'Add issue' }).click();
  const card = column(page, 'backlog').locator('.card', { hasText: title });
  await expect(card.locator('.model')).toHaveText('claude-opus-4-1');
  await card.locator('a.title').click();
  const drawer = page.locator('.drawer');
  await expect(drawer.locator('.facts')).toContainText('claude-opus-4-1');
  await drawer.locator('summary', { hasText: 'Edit' }).click();
  await expect(drawer.getByLabel('Model')).toHaveValue('claude-opus-4-1');
  await drawer.getByLabel('Model').selectOption({ label: "the runner's default" });
  await drawer.getByRole('button', { name: 'Save' }).click();
  await expect(drawer.locator('.facts')).not.toContainText('claude-opus-4-1');
  await expect(card.locator('.model')).toHaveCount(0);
});

test('an issue can ask for another agent; the card, the drawer and the edit form say which', async ({ page }) => {
  await openBoard(page);
  const title = `For Gemini ${Date.now()}`;
  await page.getByPlaceholder('What needs doing?').fill(title);
  const choice = page.locator('form select[name="agent"]').first();
  await expect(choice.locator('option')).toHaveText(['claude (default agent)', 'gemini', 'codex']);
  await choice.selectOption('gemini');
  await page.getByRole('button', { name: 'Add issue' }).click();
  const card = column(page, 'backlog').locator('.card', { hasText: title });
  await expect(card.locator('.agent')).toHaveText('gemini');
  await page.screenshot({ path: 'test-results/agent-choice.png' });
  await card.locator('a.title').click();
  const drawer = page.locator('.drawer');
  await expect(drawer.locator('.facts')).toContainText('Agent');
  await expect(drawer.locator('.facts')).toContainText('gemini');
  await drawer.locator('summary', { hasText: 'Edit' }).click();
  const edit = drawer.locator('select[name="agent"]');
  await expect(edit).toHaveValue('gemini');
  await edit.selectOption({ label: 'claude (default agent)' });
  await drawer.getByRole('button', { name: 'Save' }).click();
  await expect(drawer.locator('.facts')).not.toContainText('gemini');
  await expect(card.locator('.agent')).toHaveCount(0);
});

test('drag a card from backlog to ready; it stays there after a reload', async ({ page, request }) => {
  const issue = await createIssue(request, `Drag me ${Date.now()}`);
  await openBoard(page);
  const answered = moveAnswered(page);
  await cardIn(page, 'backlog', issue.id).dragTo(column(page, 'ready'));
  await answered;
  await expect(cardIn(page, 'ready', issue.id)).toBeVisible();
  await page.reload();
  await expect(cardIn(page, 'ready', issue.id)).toBeVisible();
});

test('with the runner off the board is a plain tracker: dragging a ready card to In progress makes it my human work', async ({ page, request }) => {
  const issue = await createIssue(request, `Mine now ${Date.now()}`, { status: 'ready' });
  expect(issue.human_only).toBe(false);
  await openBoard(page);
  const answered = moveAnswered(page);
  await cardIn(page, 'ready', issue.id).dragTo(column(page, 'in_progress'));
  await answered;
  const card = cardIn(page, 'in_progress', issue.id);
  await expect(card).toBeVisible();
  await expect(card.locator('.human-only')).toBeVisible();
  await expect(card.locator('.assignee')).toContainText('Max Member');
  await page.reload();
  await expect(cardIn(page, 'in_progress', issue.id).locator('.human-only')).toBeVisible();
});

test('while dragging, illegal columns are marked; an illegal drop changes nothing', async ({ page, request }) => {
  const issue = await createIssue(request, `No shortcut ${Date.now()}`);
  await openBoard(page);
  await cardIn(page, 'backlog', issue.id).hover();
  await page.mouse.down();
  await column(page, 'done').hover();
  await column(page, 'done').hover({ position: { x: 20, y: 20 } });
  await expect(column(page, 'done')).toHaveClass(/drop-no/);
  await expect(column(page, 'ready')).toHaveClass(/drop-ok/);
  // The card being dragged fades, and only that one.
  await expect(cardIn(page, 'backlog', issue.id)).toHaveClass(/dragging/);
  await expect(page.locator('.card.dragging')).toHaveCount(1);
  await page.mouse.up();
  await expect(cardIn(page, 'backlog', issue.id)).toBeVisible();
  await expect(page.locator('.card.dragging')).toHaveCount(0);
  await page.reload();
  await expect(cardIn(page, 'backlog', issue.id)).toBeVisible();
  await expect(cardIn(page, 'done', issue.id)).toHaveCount(0);
});

test('a search of 1 or 2 characters looks in titles only, and the board says so', async ({ page, request }) => {
  // Characters no other test writes: "ǂǁ" in one title, "ǂǁǀ" in another issue's body.
  const inTitle = await createIssue(request, `Short ǂǁ ${Date.now()}`);
  const inBody = await createIssue(request, `Long ${Date.now()}`, { body: 'about ǂǁǀ' });
  await openBoard(page, '/?q=%C7%82%C7%81');
  await expect(cardIn(page, 'backlog', inTitle.id)).toBeVisible();
  await expect(cardIn(page, 'backlog', inBody.id)).toHaveCount(0);
  const hint = page.locator('.filters .hint');
  await expect(hint).toHaveText(/titles only: type 3 or more/);
  await page.screenshot({ path: 'test-results/short-search.png' });
  // 3 characters search bodies too; the board navigates in place and the note goes.
  await page.getByRole('searchbox', { name: 'Search' }).fill('ǂǁǀ');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(cardIn(page, 'backlog', inBody.id)).toBeVisible();
  await expect(cardIn(page, 'backlog', inTitle.id)).toHaveCount(0);
  await expect(hint).toHaveCount(0);
});

test('a move on a stale board is refused: the card goes back and the reason shows', async ({ page, request }) => {
  const tag = `Contested${Date.now()}`;
  const issue = await createIssue(request, tag);
  // This board hears nothing live, so it keeps the old version. It shows only this card: the
  // cards earlier tests left (moved, reordered) play no part in the drag.
  await page.route('**/api/autopilot/stream', (route) => route.abort());
  await page.goto(`/?q=${tag}`);
  await expect(page.locator('.page')).toHaveAttribute('data-hydrated', 'true');
  // Someone else moves it first.
  const other = await request.post(`/api/autopilot/issues/${issue.id}/status`, { data: { status: 'ready' } });
  expect(other.status()).toBe(200);
  await cardIn(page, 'backlog', issue.id).dragTo(column(page, 'ready'));
  await expect(page.locator('.notice-bar')).toContainText(`#${issue.id} was not moved`);
  await expect(page.locator('.notice-bar')).toContainText('changed by someone else');
  // The board now shows the real state.
  await expect(cardIn(page, 'ready', issue.id)).toBeVisible();
});

test('move a card with the keyboard only', async ({ page, request }) => {
  const issue = await createIssue(request, `Keyboard ${Date.now()}`);
  await openBoard(page);
  await markPage(page);
  // The card's "Move to…" link opens the board's move menu, its first choice focused.
  const link = cardIn(page, 'backlog', issue.id).getByRole('link', { name: 'Move to…' });
  await link.focus();
  await page.keyboard.press('Enter');
  const menu = page.getByRole('dialog', { name: `Move #${issue.id} to` });
  await expect(menu).toBeVisible();
  await expect(page.locator(':focus')).toHaveText('Ready');
  await page.screenshot({ path: 'test-results/move-menu.png' });
  // Escape closes it and gives the focus back to the link; Enter opens it again.
  await page.keyboard.press('Escape');
  await expect(menu).toHaveCount(0);
  await expect(link).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.locator(':focus')).toHaveText('Ready');
  await page.keyboard.press('Enter');
  await expect(cardIn(page, 'ready', issue.id)).toBeVisible();
  await expect(menu).toHaveCount(0);
  expect(await pageKept(page), 'moved in place, not by posting the form').toBe(true);
});

test('the filters narrow the board in place; cleared, the board is whole again', async ({ page, request }) => {
  const tag = `Filter${Date.now()}`;
  const bug = await createIssue(request, `${tag} a bug`, { kind: 'bug' });
  const task = await createIssue(request, `${tag} a task`, { kind: 'task' });
  await openBoard(page);
  await markPage(page);
  await page.getByRole('searchbox', { name: 'Search' }).fill(tag);
  await page.getByLabel('Kind filter').selectOption('bug');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(new RegExp(`/\\?q=${tag}&kind=bug$`));
  await expect(cardIn(page, 'backlog', bug.id)).toBeVisible();
  await expect(cardIn(page, 'backlog', task.id)).toHaveCount(0);
  await expect(column(page, 'backlog').locator('.count')).toHaveText('1');
  await page.screenshot({ path: 'test-results/filtered.png' });
  // Words with spaces and signs reach the search as typed.
  await page.getByRole('searchbox', { name: 'Search' }).fill(`${tag} a task`);
  await page.getByLabel('Kind filter').selectOption('');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(new RegExp(`/\\?q=${tag}%20a%20task$`));
  await expect(cardIn(page, 'backlog', task.id)).toBeVisible();
  await expect(cardIn(page, 'backlog', bug.id)).toHaveCount(0);
  await page.getByRole('searchbox', { name: 'Search' }).fill('');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(cardIn(page, 'backlog', bug.id)).toBeVisible();
  await expect(cardIn(page, 'backlog', task.id)).toBeVisible();
  expect(await pageKept(page), 'filtered in place, without a page load').toBe(true);
});

test('create, edit, comment and attach in the drawer', async ({ page }) => {
  await openBoard(page);
  const title = `Drawer ${Date.now()}`;
  await page.getByPlaceholder('What needs doing?').fill(title);
  await page.getByRole('button', { name: 'Add issue' }).click();
  await page.getByRole('link', { name: title }).click();
  await expect(page).toHaveURL(/\?issue=\d+/);
  const drawer = page.locator('aside.drawer');
  await expect(drawer.locator('h2')).toHaveText(title);

  await drawer.getByText('Edit', { exact: true }).click();
  await drawer.getByLabel('Title').fill(`${title} (edited)`);
  await drawer.getByLabel('Description (Markdown)').fill('Steps:\n\n1. **open** it\n2. see `code`');
  await drawer.getByRole('button', { name: 'Save' }).click();
  await expect(drawer.locator('h2')).toHaveText(`${title} (edited)`);
  await expect(drawer.locator('.markdown strong')).toHaveText('open');
  await expect(page.locator('.card a.title', { hasText: `${title} (edited)` })).toBeVisible();

  await drawer.getByPlaceholder('Write a comment').fill('Looks good to me.');
  await drawer.getByRole('button', { name: 'Comment' }).click();
  await expect(drawer.locator('.comment-body')).toHaveText('Looks good to me.');
  await expect(drawer.locator('.comment-meta strong')).toHaveText('Max Member');

  // A one-pixel PNG: listed, downloadable, previewed.
  const png = Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
    'base64',
  );
  await drawer.getByLabel('File to attach').setInputFiles({ name: 'dot.png', mimeType: 'image/png', buffer: png });
  await drawer.getByRole('button', { name: 'Attach', exact: true }).click();
  await expect(drawer.locator('.attachments a', { hasText: 'dot.png' })).toBeVisible();
  await expect(drawer.locator('.attachments img.preview')).toBeVisible();
  await expect(drawer.locator('.history')).toContainText('attached a file');
  await page.screenshot({ path: 'test-results/drawer.png' });
});

test('a second browser sees a move live, without reloading', async ({ page, browser, request }) => {
  // Room for a long backlog: the drag below must not scroll.
  await page.setViewportSize({ width: 1280, height: 1600 });
  const issue = await createIssue(request, `Live ${Date.now()}`);
  const other = await browser.newContext({ storageState: '.auth/admin.json' });
  const watcher = await other.newPage();
  await openBoard(watcher);
  await expect(cardIn(watcher, 'backlog', issue.id)).toBeVisible();

  // The watcher patches the one card that changed; it never loads the whole board again.
  const calls: string[] = [];
  watcher.on('request', (r) => {
    const path = new URL(r.url()).pathname;
    if (path.includes('list_board') || path.includes('get_card')) calls.push(path);
  });
  const backlogCount = await column(watcher, 'backlog').locator('.count').innerText();
  const readyCount = await column(watcher, 'ready').locator('.count').innerText();

  await openBoard(page);
  await cardIn(page, 'backlog', issue.id).dragTo(column(page, 'ready'));
  await expect(cardIn(page, 'ready', issue.id)).toBeVisible();
  await expect(cardIn(watcher, 'ready', issue.id)).toBeVisible({ timeout: 3000 });
  await expect(cardIn(watcher, 'backlog', issue.id)).toHaveCount(0);
  await expect(column(watcher, 'backlog').locator('.count')).toHaveText(String(Number(backlogCount) - 1));
  await expect(column(watcher, 'ready').locator('.count')).toHaveText(String(Number(readyCount) + 1));
  expect(calls.some((c) => c.includes('get_card'))).toBe(true);
  expect(calls.filter((c) => c.includes('list_board'))).toEqual([]);
  await other.close();
});

test('hostile title and body show as text and run nothing', async ({ page, request }) => {
  let dialogs = 0;
  page.on('dialog', async (dialog) => { dialogs++; await dialog.dismiss(); });
  const title = `<img src=x onerror=alert(1)> ${Date.now()}`;
  const body = '<script>alert(2)</script><img src=y onerror=alert(3)>\n\n[x](javascript:alert(4))';
  const issue = await createIssue(request, title, { body });
  await openBoard(page, `/?issue=${issue.id}`);
  const drawer = page.locator('aside.drawer');
  await expect(drawer.locator('h2')).toHaveText(title);
  await expect(drawer.locator('.markdown')).toContainText('<script>alert(2)</script>');
  await expect(drawer.locator('.markdown')).toContainText('<img src=y onerror=alert(3)>');
  await drawer.locator('.markdown a', { hasText: 'x' }).click().catch(() => {});
  expect(await page.locator('.card img, .markdown img, .markdown script').count()).toBe(0);
  await expect(page.locator('.card a.title', { hasText: title })).toBeVisible();
  expect(dialogs).toBe(0);
});

test('without JavaScript the board still shows, files and moves', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false, storageState: '.auth/member.json' });
  const page = await context.newPage();
  await page.goto('/');
  await expect(page.locator('.column h2')).toHaveCount(6);
  const title = `No script ${Date.now()}`;
  await page.getByPlaceholder('What needs doing?').fill(title);
  await page.getByRole('button', { name: 'Add issue' }).click();
  await page.waitForLoadState();
  const card = column(page, 'backlog').locator('.card', { hasText: title });
  await expect(card).toBeVisible();
  // The card's "Move to…" link opens its drawer at the move form.
  await card.getByRole('link', { name: 'Move to…' }).click();
  await page.waitForLoadState();
  await page.locator('#move').getByRole('button', { name: 'Ready' }).click();
  await page.waitForLoadState();
  await expect(column(page, 'ready').locator('.card', { hasText: title })).toBeVisible();
  // The filter form is a plain GET form.
  await page.getByRole('searchbox', { name: 'Search' }).fill(title);
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.waitForLoadState();
  await expect(page).toHaveURL(/[?&]q=No(\+|%20)script/);
  await expect(page.locator('.card')).toHaveCount(1);
  await context.close();
});

test('screenshot of the board for review', async ({ page }) => {
  await openBoard(page);
  await page.screenshot({ path: 'test-results/board.png', fullPage: true });
});

test('dragging a card onto another in the same column puts it above; the order persists', async ({ page, request }) => {
  const first = await createIssue(request, `Reorder first ${Date.now()}`);
  const second = await createIssue(request, `Reorder second ${Date.now()}`);
  await openBoard(page);
  const order = async () =>
    column(page, 'backlog').locator('.card').evaluateAll((cards) => cards.map((c) => Number(c.getAttribute('data-id'))));
  const before = await order();
  expect(before.indexOf(first.id)).toBeLessThan(before.indexOf(second.id));
  const answered = moveAnswered(page);
  await cardIn(page, 'backlog', second.id).dragTo(cardIn(page, 'backlog', first.id));
  await answered;
  await expect.poll(async () => {
    const now = await order();
    return now.indexOf(second.id) < now.indexOf(first.id);
  }).toBe(true);
  await page.reload();
  const after = await order();
  expect(after.indexOf(second.id)).toBe(after.indexOf(first.id) - 1);
  // A reorder is its own event, not a move.
  const events = await (await request.get(`/api/autopilot/issues/${second.id}/events`)).json();
  expect(events.map((e: { kind: string }) => e.kind)).toContain('reordered');
});

test('a long column shows its first 50 cards; "Show 50 more" shows the rest, keeping the filter', async ({ page, request }) => {
  const tag = `Long${Date.now()}`;
  const ids: number[] = [];
  for (let i = 0; i < 55; i++) {
    const issue = await createIssue(request, `${tag} card ${i}`, { status: 'ready', human_only: true });
    const moved = await request.post(`/api/autopilot/issues/${issue.id}/status`, { data: { status: 'in_progress' } });
    expect(moved.status()).toBe(200);
    ids.push(issue.id);
  }
  await openBoard(page, `/?q=${tag}`);
  const working = column(page, 'in_progress');
  await expect(working.locator('.count')).toHaveText('55');
  await expect(working.locator('.card')).toHaveCount(50);
  const more = working.getByRole('link', { name: /Show 50 more/ });
  await expect(more).toHaveText('Show 50 more (50 of 55)');
  // Clicked where it is: scrolling to it would load the next cards by itself (scale.spec.ts
  // tests that), moving the link from under the pointer.
  await more.dispatchEvent('click');
  await expect(page).toHaveURL(/in_progress=100/);
  await expect(page).toHaveURL(new RegExp(`q=${tag}`));
  await expect(working.locator('.card')).toHaveCount(55);
  await expect(working.getByRole('link', { name: /Show 50 more/ })).toHaveCount(0);
  await page.screenshot({ path: 'test-results/long-column.png' });
  // Out of the way of the tests after this one.
  for (const id of ids) {
    for (const status of ['in_review', 'done']) {
      const r = await request.post(`/api/autopilot/issues/${id}/status`, { data: { status } });
      expect(r.status()).toBe(200);
    }
  }
});

test('an issue opened from its address hydrates (its chunk comes first) and follows live changes', async ({ page, request }) => {
  const errors: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(e.message));
  const issue = await createIssue(request, `Opened by its link ${Date.now()}`);
  for (const address of [`/?issue=${issue.id}`, `/issues/${issue.id}`]) {
    await openBoard(page, address);
    const title = `Renamed at ${address} ${Date.now()}`;
    const renamed = await request.patch(`/api/autopilot/issues/${issue.id}`, { data: { title } });
    expect(renamed.status()).toBe(200);
    await expect(page.locator('#issue-title')).toHaveText(title);
  }
  expect(errors).toEqual([]);
});
