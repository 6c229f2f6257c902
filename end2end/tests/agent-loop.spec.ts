import { test, expect, Page, APIRequestContext } from '@playwright/test';
import { spawn, execFileSync, ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

// The agent finishing the job, as a person sees it: a question answered in the drawer, a plan
// approved, and failing checks sent back. A server of its own with the runner on, pushing to
// a bare remote through the stand-in `gh` (server/tests/fixtures/fake-gh, which answers from
// files next to the checkout), and the fake Claude Code CLI of the Rust tests.
const port = 3133;
const base = `http://127.0.0.1:${port}`;
const password = 'agent loop e2e password';
let server: ChildProcess;
let dir: string;

test.beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'autopilot-loop-'));
  const repo = join(dir, 'repo');
  const remote = join(dir, 'remote.git');
  execFileSync('git', ['init', '-q', '--bare', remote]);
  execFileSync('git', ['init', '-q', '-b', 'main', repo]);
  writeFileSync(join(repo, 'README.md'), '# Scratch\n');
  execFileSync('git', ['-C', repo, 'add', '.']);
  execFileSync('git', ['-C', repo, '-c', 'user.name=Dev', '-c', 'user.email=dev@x', 'commit', '-qm', 'start']);
  execFileSync('git', ['-C', repo, 'remote', 'add', 'origin', remote]);
  execFileSync('git', ['-C', repo, 'push', '-q', 'origin', 'main']);
  // The pull requests' state as `gh pr view` reports it: open, checks passing (for now).
  writeFileSync(join(dir, 'pr-state.json'), passing);
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
      AUTOPILOT_PUSH: '1',
      AUTOPILOT_GH_BIN: resolve('../server/tests/fixtures/fake-gh'),
      AUTOPILOT_PR_POLL_SECONDS: '5',
      AUTOPILOT_POLL_SECONDS: '3',
      AUTOPILOT_AGENT_ID: 'e2e-loop',
    },
    stdio: 'ignore',
  });
  await expect.poll(async () => {
    try { return (await fetch(`${base}/healthz`)).status; } catch { return 0; }
  }, { timeout: 20_000 }).toBe(200);
  execFileSync('./target/debug/autopilot', ['user', 'add', '--email', 'admin@example.com', '--name', 'Ada Admin', '--role', 'admin'], { cwd: '..', env });
});

test.afterAll(() => { server?.kill('SIGTERM'); });

const passing = '{"state":"OPEN","author":{"login":"autopilot-bot"},"statusCheckRollup":[{"status":"COMPLETED","conclusion":"SUCCESS"}]}';
const failing = '{"state":"OPEN","author":{"login":"autopilot-bot"},"statusCheckRollup":[{"status":"COMPLETED","conclusion":"FAILURE"}]}';

async function signIn(page: Page) {
  await page.goto('/login');
  await page.getByLabel('Email').fill('admin@example.com');
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${base}/`);
}

async function issueOf(request: APIRequestContext, id: number) {
  return (await request.get(`/api/autopilot/issues/${id}`)).json();
}

async function runsOf(request: APIRequestContext, id: number) {
  return (await request.get(`/api/autopilot/issues/${id}/runs`)).json();
}

test('a person answers the agent in the drawer, and the agent carries on in the same session', async ({ browser }) => {
  test.setTimeout(90_000);
  const context = await browser.newContext({ baseURL: base, viewport: { width: 1400, height: 1100 } });
  const page = await context.newPage();
  await signIn(page);
  const created = await page.request.post('/api/autopilot/issues', {
    data: { title: 'Greet the team FAKE:ask', body: 'Add a greeting to HELLO.md', status: 'ready' },
  });
  const issue = await created.json();
  await expect.poll(async () => (await issueOf(page.request, issue.id)).status, { timeout: 30_000 }).toBe('blocked');

  // The card says what the agent asks.
  await page.goto('/?q=FAKE%3Aask');
  await expect(page.locator('.page')).toHaveAttribute('data-hydrated', 'true');
  const card = page.locator(`.card[data-id="${issue.id}"]`);
  await expect(card.locator('.loop-mark')).toHaveText('asks: Formal or casual?');
  await page.screenshot({ path: 'test-results/loop-asks-card.png' });

  // The drawer puts the question first; an empty answer is refused by the form.
  await card.locator('a.title').click();
  const asks = page.locator('.agent-asks');
  await expect(asks.locator('.question-text')).toHaveText('Formal or casual?');
  await asks.getByRole('button', { name: 'Answer and continue' }).click();
  await expect(page.locator('.issue .status')).toHaveText('Blocked');
  await asks.getByLabel('Your answer').fill('Casual, please.');
  await page.screenshot({ path: 'test-results/loop-asks-drawer.png', fullPage: true });
  await asks.getByRole('button', { name: 'Answer and continue' }).click();

  // The answer is in the thread; the next run resumes the session and ends in review.
  await expect(page.locator('.comments')).toContainText('Casual, please.');
  await expect.poll(async () => (await issueOf(page.request, issue.id)).status, { timeout: 30_000 }).toBe('in_review');
  const runs = await runsOf(page.request, issue.id);
  expect(runs[0].kind).toBe('answer');
  expect(runs[0].resumed).toBe(true);
  await page.reload();
  await expect(page.locator('.run-list li').first()).toContainText('answer');
  await expect(page.locator('.run-list li').first()).toContainText('resumed its session');
  await expect(page.locator('.agent-asks')).toHaveCount(0);
  await page.screenshot({ path: 'test-results/loop-answered.png', fullPage: true });
  await context.close();
});

test('a plan-first issue waits in review marked "plan"; approved, the agent carries it out', async ({ browser }) => {
  test.setTimeout(90_000);
  const context = await browser.newContext({ baseURL: base, viewport: { width: 1400, height: 1100 } });
  const page = await context.newPage();
  await signIn(page);
  const created = await page.request.post('/api/autopilot/issues', {
    data: { title: 'Greet the plan FAKE:plan', body: 'Plan, then add a line', status: 'ready', plan_first: true },
  });
  const issue = await created.json();
  expect(issue.plan_first).toBe(true);
  await expect.poll(async () => (await issueOf(page.request, issue.id)).plan_state, { timeout: 30_000 }).toBe('proposed');

  await page.goto('/?q=FAKE%3Aplan');
  await expect(page.locator('.page')).toHaveAttribute('data-hydrated', 'true');
  const card = page.locator(`.card[data-id="${issue.id}"]`);
  await expect(card.locator('.loop-mark')).toHaveText('plan');
  await card.locator('a.title').click();
  const review = page.locator('.plan-review');
  await expect(review.locator('.plan-text')).toContainText('1. Add a line to HELLO.md');
  await expect(page.locator('.facts .plan-state')).toHaveText('plan waiting for approval');
  // A plan run keeps nothing: no branch, no change to review.
  await expect(page.locator('.changes')).toHaveCount(0);
  await page.screenshot({ path: 'test-results/loop-plan.png', fullPage: true });

  await review.getByRole('button', { name: 'Approve plan' }).click();
  await expect(page.locator('.facts .plan-state')).toHaveText('plan approved');
  await expect.poll(async () => (await issueOf(page.request, issue.id)).status, { timeout: 30_000 }).toBe('in_review');
  const runs = await runsOf(page.request, issue.id);
  expect(runs.map((r: { kind: string }) => r.kind)).toEqual(['work', 'plan']);
  expect(runs[0].resumed).toBe(true);
  await page.reload();
  await expect(page.locator('.changes h3')).toContainText('1 file');
  await expect(page.locator('.history')).toContainText('plan approved');
  await context.close();
});

test('failing checks send the issue back to the agent, marked "fixing checks", then it passes', async ({ browser }) => {
  test.setTimeout(120_000);
  const context = await browser.newContext({ baseURL: base, viewport: { width: 1400, height: 1100 } });
  const page = await context.newPage();
  await signIn(page);
  const created = await page.request.post('/api/autopilot/issues', {
    data: { title: 'Greet the checks FAKE:append', body: 'Add a line', status: 'ready' },
  });
  const issue = await created.json();
  await expect.poll(async () => (await issueOf(page.request, issue.id)).status, { timeout: 30_000 }).toBe('in_review');

  // Runners pause, so the card can be seen waiting for its checks-fixing run.
  await page.goto('/admin/runner');
  await expect(page.locator('.page')).toHaveAttribute('data-hydrated', 'true');
  await page.getByRole('button', { name: 'Pause runners (let current runs finish)' }).click();
  await expect(page.locator('.runner-switch .switch-state')).toHaveAttribute('data-paused', 'true');

  writeFileSync(join(dir, 'pr-checks.json'), JSON.stringify([
    { name: 'test', state: 'FAILURE', bucket: 'fail', link: 'https://github.example/acme/app/actions/runs/5/job/77' },
  ]));
  writeFileSync(join(dir, 'job-77.log'), '2026-12-06T10:00:00.0000000Z \u001b[31merror: greeting test failed\u001b[0m\n');
  writeFileSync(join(dir, 'pr-state.json'), failing);
  await expect.poll(async () => (await issueOf(page.request, issue.id)).next_run, { timeout: 30_000 }).toBe('checks_fix');
  writeFileSync(join(dir, 'pr-state.json'), passing);

  await page.goto('/?q=FAKE%3Aappend');
  await expect(page.locator('.page')).toHaveAttribute('data-hydrated', 'true');
  const card = page.locator(`.card[data-id="${issue.id}"]`);
  await expect(card.locator('.loop-mark')).toHaveText('fixing checks');
  await card.locator('a.title').click();
  await expect(page.locator('.comments')).toContainText('error: greeting test failed');
  await expect(page.locator('.facts .next-run')).toHaveText('checks fix');
  await page.screenshot({ path: 'test-results/loop-fixing-checks.png', fullPage: true });

  await page.goto('/admin/runner');
  await page.getByRole('button', { name: 'Resume runners' }).click();
  await expect.poll(async () => (await runsOf(page.request, issue.id))[0].kind, { timeout: 30_000 }).toBe('checks_fix');
  await expect.poll(async () => (await issueOf(page.request, issue.id)).pr_checks, { timeout: 40_000 }).toBe('passing');
  expect((await issueOf(page.request, issue.id)).status).toBe('in_review');
  await context.close();
});

test('an admin makes new issues plan first by default, and an issue can opt out', async ({ browser }) => {
  const context = await browser.newContext({ baseURL: base });
  const page = await context.newPage();
  await signIn(page);
  await page.goto('/admin/runner');
  await expect(page.locator('.page')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.locator('.plan-first-state')).toHaveAttribute('data-plan-first', 'false');
  await page.getByRole('button', { name: 'Make new issues plan first' }).click();
  await expect(page.locator('.plan-first-state')).toHaveAttribute('data-plan-first', 'true');
  await page.screenshot({ path: 'test-results/loop-plan-first-default.png' });
  // Filed in the backlog, so no runner takes them.
  const planned = await (await page.request.post('/api/autopilot/issues', { data: { title: 'Planned by default' } })).json();
  expect(planned.plan_first).toBe(true);
  const direct = await (await page.request.post('/api/autopilot/issues', { data: { title: 'Straight to work', plan_first: false } })).json();
  expect(direct.plan_first).toBe(false);
  // The drawer's edit form shows and changes it.
  await page.goto(`/?issue=${direct.id}`);
  await expect(page.locator('.page')).toHaveAttribute('data-hydrated', 'true');
  await page.locator('details.edit summary').click();
  await page.getByLabel('Plan first').check();
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.locator('.facts .plan-state')).toHaveText('the agent plans first');
  await page.goto('/admin/runner');
  await page.getByRole('button', { name: 'Let new issues go straight to work' }).click();
  await expect(page.locator('.plan-first-state')).toHaveAttribute('data-plan-first', 'false');
  await context.close();
});
