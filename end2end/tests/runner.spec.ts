import { test, expect, Page } from '@playwright/test';
import { spawn, execFileSync, ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

// A server of its own with the runner on: a fresh database, a scratch git repository, and the
// fake agent of the Rust tests (server/tests/fixtures/fake-claude), polling every 3 seconds.
const port = 3128;
const base = `http://127.0.0.1:${port}`;
const password = 'runner e2e password';
let server: ChildProcess;

test.beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'autopilot-runner-'));
  const repo = join(dir, 'repo');
  execFileSync('git', ['init', '-q', '-b', 'main', repo]);
  writeFileSync(join(repo, 'README.md'), '# Scratch\n');
  execFileSync('git', ['-C', repo, 'add', '.']);
  execFileSync('git', ['-C', repo, '-c', 'user.name=Dev', '-c', 'user.email=dev@x', 'commit', '-qm', 'start']);
  const env = {
    ...process.env,
    RUST_LOG: 'warn',
    DATABASE_URL: `sqlite://${join(dir, 'board.db')}`,
    AUTOPILOT_PASSWORD: password,
  };
  server = spawn('./target/debug/autopilot', ['serve', '--addr', `127.0.0.1:${port}`], {
    cwd: '..',
    env: {
      ...env,
      AUTOPILOT_RUNNER: '1',
      AUTOPILOT_WORKDIR: repo,
      AUTOPILOT_CLAUDE_BIN: resolve('../server/tests/fixtures/fake-claude'),
      AUTOPILOT_POLL_SECONDS: '3',
      AUTOPILOT_AGENT_ID: 'e2e-runner',
    },
    stdio: 'ignore',
  });
  await expect.poll(async () => {
    try { return (await fetch(`${base}/healthz`)).status; } catch { return 0; }
  }, { timeout: 20_000 }).toBe(200);
  // The server has made the database; the command line adds to it (it never makes one).
  execFileSync('./target/debug/autopilot', ['user', 'add', '--email', 'admin@example.com', '--name', 'Ada Admin', '--role', 'admin'], { cwd: '..', env });
});

test.afterAll(() => { server?.kill('SIGTERM'); });

async function signIn(page: Page) {
  await page.goto('/login');
  await page.getByLabel('Email').fill('admin@example.com');
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${base}/`);
}

test('an admin pauses the runner, then watches a run stream into the drawer', async ({ browser }) => {
  test.setTimeout(60_000);
  const context = await browser.newContext({ baseURL: base });
  const page = await context.newPage();
  await signIn(page);

  // The runner page lists the runner; pausing is stored and shown.
  await page.goto('/admin/runner');
  await expect(page.locator('.page')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.locator('tr[data-runner="e2e-runner"]')).toHaveAttribute('data-state', 'idle');
  await page.getByRole('button', { name: 'Pause runners (let current runs finish)' }).click();
  await expect(page.locator('.switch-state')).toHaveAttribute('data-paused', 'true');

  const created = await page.request.post('/api/autopilot/issues', {
    data: { title: 'Greet the world FAKE:slow', body: 'Add a HELLO.md', status: 'ready' },
  });
  expect(created.status()).toBe(201);
  const issue = await created.json();
  // Paused: more than a poll goes by and nobody claims it.
  await page.waitForTimeout(4_500);
  expect((await (await page.request.get(`/api/autopilot/issues/${issue.id}`)).json()).status).toBe('ready');
  await page.screenshot({ path: 'test-results/runner-paused.png', fullPage: true });

  // The drawer is open (in a second tab) before the runner resumes, so the whole run is seen
  // live however slowly the page loads.
  const drawer = await page.context().newPage();
  await drawer.goto(`/?issue=${issue.id}`);
  await expect(drawer.locator('.page')).toHaveAttribute('data-hydrated', 'true');
  await expect(drawer.locator('body')).toHaveAttribute('data-live', 'true');

  await page.getByRole('button', { name: 'Resume runners' }).click();
  await expect(page.locator('.switch-state')).toHaveAttribute('data-paused', 'false');

  // The run appears when the runner claims the issue, and its log follows live.
  const log = drawer.locator('.run-log pre');
  await expect(log).toContainText('Thinking, step 1 of 6', { timeout: 15_000 });
  await expect(log).toHaveAttribute('data-ended', 'false');
  await expect(log).toContainText('Thinking, step 3 of 6');
  await drawer.screenshot({ path: 'test-results/runner-live-log.png', fullPage: true });
  await expect(log).toContainText('● outcome: review', { timeout: 20_000 });
  // The stream says the run is over (and the browser stops following it).
  await expect(log).toHaveAttribute('data-ended', 'true');
  await expect(drawer.locator('.issue .status')).toHaveText('In review');
  await expect(drawer.locator('.issue')).toContainText('autopilot/issue-');

  // The runner page shows the finished run.
  await page.reload();
  await expect(page.locator('tr[data-runner="e2e-runner"]')).toContainText('review');
  await page.screenshot({ path: 'test-results/runner-admin.png', fullPage: true });
});

test('a reviewer reads the change in the drawer, asks for changes on picked lines, then approves', async ({ browser }) => {
  test.setTimeout(90_000);
  const context = await browser.newContext({ baseURL: base, viewport: { width: 1400, height: 1400 } });
  const page = await context.newPage();
  await signIn(page);
  const status = async (id: number) => (await (await page.request.get(`/api/autopilot/issues/${id}`)).json()).status;

  const created = await page.request.post('/api/autopilot/issues', {
    data: { title: 'Greet twice FAKE:append', body: 'Add a line to HELLO.md', status: 'ready' },
  });
  const issue = await created.json();
  await expect.poll(() => status(issue.id), { timeout: 30_000 }).toBe('in_review');

  await page.goto(`/?issue=${issue.id}`);
  await expect(page.locator('.page')).toHaveAttribute('data-hydrated', 'true');
  const changes = page.locator('.changes');
  await expect(changes.locator('h3')).toContainText('1 file, +1 −0');
  await expect(changes.locator('.diff-file summary')).toContainText('HELLO.md');
  await expect(changes.locator('.diff-file summary')).toContainText('(added)');
  await expect(changes.locator('tr.add td').nth(2)).toContainText('Hello again from run');
  // Colours come from the server: the line's inline code is a string token, and a page
  // read without JavaScript shows the same coloured change.
  await expect(changes.locator('tr.add span.s')).toHaveText('`make`');
  const noScript = await browser.newContext({ baseURL: base, javaScriptEnabled: false, storageState: await context.storageState() });
  const plain = await noScript.newPage();
  await plain.goto(`/?issue=${issue.id}`);
  await expect(plain.locator('.changes h3')).toContainText('1 file, +1 −0');
  await expect(plain.locator('.changes tr.add span.s')).toHaveText('`make`');
  await noScript.close();
  await expect(changes.locator('.merge-commands')).toContainText(`git merge --no-ff autopilot/issue-${issue.id}`);
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await changes.locator('.merge-commands summary').click();
  await changes.getByRole('button', { name: 'Copy the commands' }).click();
  await expect(changes.getByRole('button', { name: 'Copied' })).toBeVisible();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toContain(`git branch -d autopilot/issue-${issue.id}`);
  // The card says what the agent spent so far.
  await expect(page.locator(`.card[data-id="${issue.id}"] .effort`)).toHaveText('1 run · $0.01');

  // Pick the added line by its number, say what to change, send.
  await changes.locator('tr.add td').nth(1).click();
  await expect(changes.locator('tr.add')).toHaveClass(/picked/);
  await expect(changes.locator('.picked-lines')).toContainText('HELLO.md:1');
  await changes.getByLabel('What should change').fill('Say it twice, please.');
  await page.screenshot({ path: 'test-results/review-changes.png', fullPage: true });
  await changes.getByRole('button', { name: 'Request changes' }).click();
  await expect(page.locator('.comments')).toContainText('`HELLO.md:1`');
  await expect(page.locator('.comments')).toContainText('Say it twice, please.');

  // The runner takes it again and continues the branch: two runs, each with its own change.
  await expect.poll(() => status(issue.id), { timeout: 30_000 }).toBe('in_review');
  await page.reload();
  await expect(changes.locator('h3')).toContainText('1 file, +2 −0');
  await expect(page.locator('.runs h3 .effort')).toHaveText('2 runs · 2 s · 4 turns · $0.02');
  await changes.getByRole('link', { name: 'Run 2 only' }).click();
  await expect(changes.locator('h3')).toContainText('1 file, +1 −0');
  await expect(changes.locator('.diff-file summary')).not.toContainText('(added)');
  await changes.getByRole('link', { name: 'Whole branch' }).click();
  await expect(changes.locator('h3')).toContainText('+2 −0');

  await changes.getByRole('button', { name: 'Approve' }).click();
  await expect(page.locator('.issue .status')).toHaveText('Done');
  expect(await status(issue.id)).toBe('done');
  await context.close();
});

test('an admin caps the spending: every runner stops claiming, the chart shows the days, and a lifted cap lets work go on', async ({ browser }) => {
  test.setTimeout(90_000);
  const context = await browser.newContext({ baseURL: base, viewport: { width: 1200, height: 1100 } });
  const page = await context.newPage();
  await signIn(page);
  const status = async (id: number) => (await (await page.request.get(`/api/autopilot/issues/${id}`)).json()).status;
  await page.goto('/admin/runner');
  await expect(page.locator('.page')).toHaveAttribute('data-hydrated', 'true');
  const spending = page.locator('.spending');
  // The runs of the tests above cost $0.0123 each, all today.
  await expect(spending.locator('.spent')).toContainText('Today: $0.');
  await expect(spending.locator('.spend-chart rect')).toHaveCount(30);
  const today = new Date().toISOString().slice(0, 10);
  await expect(spending.locator('.spend-chart rect').last().locator('title')).toHaveText(new RegExp(`^${today}: \\$0\\.0[1-9]$`));
  await expect(spending.locator('.spend-chart rect').first().locator('title')).toHaveText(/: \$0\.00$/);

  // A wrong amount is refused and changes nothing.
  await spending.getByLabel('Daily cap ($)').fill('lots');
  await spending.getByRole('button', { name: 'Save caps' }).click();
  await expect(page.getByRole('alert')).toContainText("daily: 'lots' is not an amount of dollars");
  await expect(spending.locator('.cap-reached')).toHaveCount(0);

  await spending.getByLabel('Daily cap ($)').fill('0.01');
  await spending.getByRole('button', { name: 'Save caps' }).click();
  await expect(spending.locator('.cap-reached')).toContainText('The daily spending cap stops the agent');
  await expect(spending.locator('.cap-reached')).toContainText('of $0.01.');
  await page.reload();
  await expect(page.locator('.topbar .agent-stopped')).toHaveText('Agent stopped: spending cap reached');
  await expect(page.getByLabel('Daily cap ($)')).toHaveValue('0.01');
  await page.screenshot({ path: 'test-results/runner-spending.png', fullPage: true });

  // A ready issue waits while the cap holds (the runner polls every 3 seconds)...
  const created = await page.request.post('/api/autopilot/issues', { data: { title: 'Capped FAKE:edit', status: 'ready' } });
  const issue = await created.json();
  await page.waitForTimeout(7_000);
  expect(await status(issue.id)).toBe('ready');
  // ...and is worked once the cap is lifted.
  await page.getByLabel('Daily cap ($)').fill('');
  await page.getByRole('button', { name: 'Save caps' }).click();
  await expect(page.locator('.spending .cap-reached')).toHaveCount(0);
  await expect.poll(() => status(issue.id), { timeout: 30_000 }).toBe('in_review');
  await context.close();
});
