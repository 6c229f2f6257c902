import { test, expect, Page, Browser } from '@playwright/test';
import { spawn, execFileSync, ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// The drawer of a big change: a server of its own on a board seeded by the benchmarks' seeder
// (target/debug/examples/seed_board, built by scripts/test.sh): one issue in review with a
// 5,000-line change in 50 files. The page carries the first files whole and each later one as a
// stand-in that loads when opened; the change is in the page once (not again in the data the
// page hydrates from).
const port = 3442;
const base = `http://127.0.0.1:${port}`;
let server: ChildProcess;
let review = 0;

test.beforeAll(async () => {
  test.setTimeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), 'autopilot-drawer-'));
  const seeded = execFileSync('./target/debug/examples/seed_board', ['5', join(dir, 'board.db')], { cwd: '..' })
    .toString()
    .trim()
    .split('\n');
  review = Number(seeded[1]);
  server = spawn('./target/debug/autopilot', ['serve', '--addr', `127.0.0.1:${port}`], {
    cwd: '..',
    env: { ...process.env, RUST_LOG: 'warn', DATABASE_URL: seeded[0] },
    stdio: 'ignore',
  });
  await expect.poll(async () => {
    try { return (await fetch(`${base}/healthz`)).status; } catch { return 0; }
  }, { timeout: 20_000 }).toBe(200);
});

test.afterAll(() => { server?.kill('SIGTERM'); });

async function signedIn(browser: Browser, javaScriptEnabled = true): Promise<Page> {
  const context = await browser.newContext({ baseURL: base, javaScriptEnabled, viewport: { width: 1400, height: 1000 } });
  // The form posts to /login and redirects: the same without a script.
  const page = await context.newPage();
  await page.goto('/login');
  await page.getByLabel('Email').fill('bench@example.com');
  await page.getByLabel('Password').fill('bench password 1');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${base}/`);
  return page;
}

/// The first file the page did not carry whole.
async function firstStandIn(page: Page): Promise<number> {
  const id = await page.locator('.changes .diff-file.lazy').first().getAttribute('id');
  return Number(id?.replace('file-', ''));
}

test('a big change is in the page once, later files load when opened, and their lines can be picked', async ({ browser }) => {
  test.setTimeout(90_000);
  const page = await signedIn(browser);
  const response = await page.goto(`/?issue=${review}`);
  const html = (await response!.body()).toString();
  // Under a mebibyte, and the diff only as markup: the hydration data has none of it.
  expect(html.length).toBeLessThan(1024 * 1024);
  const scripts = [...html.matchAll(/<script[^>]*>([\s\S]*?)<\/script>/g)].map((m) => m[1]).join('\n');
  expect(scripts).not.toContain('diffstat');
  expect(scripts).not.toContain('diff-file');
  await expect(page.locator('.page')).toHaveAttribute('data-hydrated', 'true');

  const changes = page.locator('.changes');
  await expect(changes.locator('h3')).toContainText('50 files');
  await expect(changes.locator('#file-0 table.diff')).toBeVisible();
  const n = await firstStandIn(page);
  expect(n).toBeGreaterThan(0);
  expect(n).toBeLessThan(50);
  const standIn = changes.locator(`#file-${n}`);
  await expect(standIn).toHaveClass(/lazy/);
  await expect(standIn.locator('table')).toHaveCount(0);

  // Opening it loads it in place, open, with its lines.
  await standIn.locator('summary').click();
  await expect(standIn).not.toHaveClass(/lazy/);
  await expect(standIn.locator(`table.diff[data-file="src/module_${n}.rs"] tr.add`).first()).toBeVisible();
  expect(page.url()).not.toContain('files=');
  // Its "Show this file" link loads the next one in place too (no navigation), as does its
  // line in the list of files.
  await changes.locator(`#file-${n + 1}`).evaluate((d) => { (d as HTMLDetailsElement).open = true; });
  await changes.locator(`#file-${n + 1} a.load-file`).click();
  await expect(changes.locator(`#file-${n + 1} table.diff`)).toBeVisible();
  await changes.locator(`.diffstat a[href="#file-${n + 2}"]`).click();
  await expect(changes.locator(`#file-${n + 2} table.diff`)).toBeVisible();
  expect(page.url()).not.toContain('files=');

  // A loaded file's lines are picked like the others.
  const row = standIn.locator('tr.add').first();
  await row.locator('td').nth(1).click();
  await expect(row).toHaveClass(/picked/);
  await expect(changes.locator('.picked-lines')).toContainText(`src/module_${n}.rs:`);

  // A refetch (here after a comment) brings the change's HTML with it.
  await page.getByPlaceholder('Write a comment').fill('Looking at it.');
  await page.getByRole('button', { name: 'Comment', exact: true }).click();
  await expect(page.locator('.comments')).toContainText('Looking at it.');
  await expect(changes.locator('#file-0 table.diff')).toBeVisible();
  await expect(changes.locator('.diffstat')).toBeVisible();
  await page.context().close();
});

test('opened from the board, the drawer shows the change; without a script a later file is a link away', async ({ browser }) => {
  test.setTimeout(60_000);
  const page = await signedIn(browser);
  await expect(page.locator('.page')).toHaveAttribute('data-hydrated', 'true');
  await page.locator(`a.title[href="/?issue=${review}"]`).click();
  const changes = page.locator('.changes');
  await expect(changes.locator('#file-0 table.diff')).toBeVisible();
  const n = await firstStandIn(page);
  await changes.locator(`#file-${n} summary`).click();
  await expect(changes.locator(`#file-${n} table.diff`)).toBeVisible();
  await page.context().close();

  const plain = await signedIn(browser, false);
  await plain.goto(`/?issue=${review}`);
  const m = await firstStandIn(plain);
  const standIn = plain.locator(`.changes #file-${m}`);
  await standIn.locator('summary').click();
  await standIn.getByRole('link', { name: 'Show this file' }).click();
  await expect(plain).toHaveURL(new RegExp(`files=${m}#file-${m}$`));
  await expect(plain.locator(`.changes #file-${m}`)).not.toHaveClass(/lazy/);
  await expect(plain.locator(`.changes #file-${m} table.diff tr.add`).first()).toBeVisible();
  // The next stand-in's link keeps this file shown.
  const next = plain.locator(`.changes #file-${m + 1} a.load-file`);
  await expect(next).toHaveAttribute('href', `?issue=${review}&files=${m},${m + 1}#file-${m + 1}`);
  await plain.context().close();
});
