import { defineConfig, devices } from '@playwright/test';

// The server under test. `cargo leptos end-to-end` starts it itself and sets
// E2E_EXTERNAL_SERVER=1; otherwise Playwright starts the built binary on a fresh database.
const port = Number(process.env.E2E_PORT ?? (process.env.E2E_EXTERNAL_SERVER === '1' ? 3000 : 3123));
const baseURL = `http://127.0.0.1:${port}`;
const external = process.env.E2E_EXTERNAL_SERVER === '1';

export default defineConfig({
  testDir: './tests',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: process.env.CI ? 1 : 0,
  reporter: [['list']],
  use: {
    baseURL,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
  },
  webServer: {
    command: external
      ? 'true'
      : `sh -c 'rm -f target/e2e.db* && exec ./target/debug/autopilot serve --addr 127.0.0.1:${port} --database-url sqlite://target/e2e.db'`,
    cwd: '..',
    url: `${baseURL}/healthz`,
    reuseExistingServer: external,
    timeout: 60_000,
    stdout: 'pipe',
    stderr: 'pipe',
  },
  projects: [
    {
      name: 'chromium',
      use: {
        ...devices['Desktop Chrome'],
        launchOptions: {
          executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
          args: [
            '--no-sandbox',
            '--disable-gpu',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
            '--no-first-run',
          ],
        },
      },
    },
  ],
});
