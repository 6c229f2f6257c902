// Autopilot behind a real nginx (Debian's package), configured with deploy/nginx.conf as the
// README gives it: over TLS, the board loads and signs in, a live update arrives through the
// proxy, a 20 MiB attachment passes, and two visitors with different addresses each get their
// own feedback limit (the server believes the proxy's X-Forwarded-For, not a visitor's own).
import { test, expect, request as apiRequest, APIRequestContext } from '@playwright/test';
import { ChildProcess, spawn, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBoard, column } from '../board-helpers';

const NGINX = '/usr/sbin/nginx';
const APP_PORT = 3141;
const PROXY_PORT = 3143;
const PROXY = `https://127.0.0.1:${PROXY_PORT}`;
const PASSWORD = 'proxy test password';

let dir = '';
let server: ChildProcess | undefined;
let nginx: ChildProcess | undefined;
let api: APIRequestContext;

const autopilot = (args: string[], env: object = {}) =>
  execFileSync('./target/debug/autopilot', args, {
    cwd: '..',
    env: { ...process.env, DATABASE_URL: `sqlite://${join(dir, 'board.db')}`, RUST_LOG: 'warn', ...env },
  }).toString();

/** POST a feedback message from a given local address, straight through the proxy. */
function feedbackFrom(address: string, extraHeaders: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ message: `from ${address}` });
    const req = https.request(`${PROXY}/api/autopilot/feedback`, {
      method: 'POST',
      localAddress: address,
      rejectUnauthorized: false,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...extraHeaders },
    }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); });
    req.on('error', reject);
    req.end(body);
  });
}

async function waitFor(check: () => Promise<boolean>, what: string) {
  for (let i = 0; i < 200; i++) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not come up`);
}

test.describe('behind nginx', () => {
  test.beforeAll(async () => {
    if (!existsSync(NGINX)) {
      // CI must run this (scripts/setup.sh --tests installs nginx); elsewhere it may be skipped.
      if (process.env.CI) throw new Error('nginx is missing: run scripts/setup.sh --tests');
      test.skip(true, 'no nginx on this machine');
    }
    dir = mkdtempSync(join(tmpdir(), 'autopilot-proxy-'));
    chmodSync(dir, 0o755);
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
      '-subj', '/CN=127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
      { stdio: 'ignore' });
    const site = readFileSync('../deploy/nginx.conf', 'utf8')
      .replace('listen 443 ssl', `listen 127.0.0.1:${PROXY_PORT} ssl`)
      .replace('server_name board.example.com', 'server_name 127.0.0.1')
      .replace('/etc/ssl/certs/board.example.com.pem', join(dir, 'cert.pem'))
      .replace('/etc/ssl/private/board.example.com.key', join(dir, 'key.pem'))
      .replace('http://127.0.0.1:3000', `http://127.0.0.1:${APP_PORT}`);
    expect(site).toContain(`127.0.0.1:${APP_PORT}`);
    writeFileSync(join(dir, 'site.conf'), site);
    // nginx's workers (nobody, when started as root) write request bodies here.
    for (const temp of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) {
      mkdirSync(join(dir, temp));
      chmodSync(join(dir, temp), 0o777);
    }
    writeFileSync(join(dir, 'nginx.conf'), `
daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  include ${dir}/site.conf;
}
`);

    server = spawn('./target/debug/autopilot', ['serve', '--addr', `127.0.0.1:${APP_PORT}`], {
      cwd: '..',
      env: {
        ...process.env,
        DATABASE_URL: `sqlite://${join(dir, 'board.db')}`,
        AUTOPILOT_PUBLIC_URL: PROXY,
        AUTOPILOT_TRUSTED_PROXIES: '127.0.0.1',
        RUST_LOG: 'warn',
      },
      stdio: 'ignore',
    });
    await waitFor(async () => (await fetch(`http://127.0.0.1:${APP_PORT}/healthz`)).ok, 'Autopilot');
    autopilot(['user', 'add', '--email', 'proxy@example.com', '--name', 'Pat Proxy', '--role', 'admin'],
      { AUTOPILOT_PASSWORD: PASSWORD });
    const token = autopilot(['token', 'create', '--email', 'proxy@example.com', '--name', 'e2e', '--scope', 'read,write,move']).trim().split(/\s+/).pop()!;

    nginx = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], { stdio: 'inherit' });
    api = await apiRequest.newContext({
      baseURL: PROXY,
      ignoreHTTPSErrors: true,
      extraHTTPHeaders: { Authorization: `Bearer ${token}` },
    });
    await waitFor(async () => (await api.get('/healthz')).ok(), 'nginx');
  });

  test.afterAll(async () => {
    await api?.dispose();
    nginx?.kill('SIGQUIT');
    server?.kill('SIGTERM');
  });

  test('the board signs in over TLS and a live update arrives through the proxy', async ({ browser }) => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, baseURL: PROXY });
    const page = await context.newPage();
    const answer = await page.goto('/login');
    expect(answer?.headers()['strict-transport-security']).toContain('max-age=');
    await page.getByLabel('Email').fill('proxy@example.com');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${PROXY}/`);
    const cookies = await context.cookies();
    expect(cookies.find((c) => c.name === '__Host-autopilot_session')?.secure).toBe(true);
    await openBoard(page);

    // Filed by a script, through the proxy: the open board shows it without a reload.
    const title = `Through the proxy ${Date.now()}`;
    const created = await api.post('/api/autopilot/issues', { data: { title } });
    expect(created.status()).toBe(201);
    const issue = await created.json();
    await expect(column(page, 'backlog').locator(`.card[data-id="${issue.id}"]`)).toBeVisible({ timeout: 5_000 });
    // And a move, live too.
    const moved = await api.post(`/api/autopilot/issues/${issue.id}/status`,
      { data: { status: 'ready', version: issue.version } });
    expect(moved.status()).toBe(200);
    await expect(column(page, 'ready').locator(`.card[data-id="${issue.id}"]`)).toBeVisible({ timeout: 5_000 });
    await page.screenshot({ path: 'test-results/proxy-board.png' });
    await context.close();
  });

  test('a 20 MiB attachment passes the proxy whole', async () => {
    const issue = await (await api.post('/api/autopilot/issues', { data: { title: 'Big upload' } })).json();
    const file = Buffer.alloc(20 * 1024 * 1024, 7);
    const uploaded = await api.post(`/api/autopilot/issues/${issue.id}/attachments`, {
      multipart: { file: { name: 'big.bin', mimeType: 'application/octet-stream', buffer: file } },
      timeout: 60_000,
    });
    expect(uploaded.status(), await uploaded.text()).toBe(201);
    const listed = await (await api.get(`/api/autopilot/issues/${issue.id}/attachments`)).json();
    const attachments = Array.isArray(listed) ? listed : listed.attachments;
    expect(attachments[0].size).toBe(file.length);
  });

  test('each visitor address gets its own feedback limit', async () => {
    // Five a minute per visitor: the sixth from one address is refused, even when it claims
    // another address itself; a second visitor is not held back by the first.
    for (let i = 0; i < 5; i++) expect(await feedbackFrom('127.0.0.2')).toBe(201);
    expect(await feedbackFrom('127.0.0.2')).toBe(429);
    expect(await feedbackFrom('127.0.0.2', { 'x-forwarded-for': '203.0.113.9' })).toBe(429);
    expect(await feedbackFrom('127.0.0.3')).toBe(201);
  });
});
