import { defineConfig, devices } from '@playwright/test';

// Playwright starts the built server (target/debug/autopilot) on a fresh database with an
// admin and a member (see serve.sh); global-setup.ts signs both in once.
export const port = Number(process.env.E2E_PORT ?? 3123);
const baseURL = `http://127.0.0.1:${port}`;
export const hostPort = port + 1;

export const chromiumLaunch = {
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
  ],
};

export default defineConfig({
  testDir: './tests',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: process.env.CI ? 1 : 0,
  reporter: [['list']],
  globalSetup: './global-setup.ts',
  use: {
    baseURL,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
  },
  webServer: [
    {
      command: `./serve.sh ${port}`,
      url: `${baseURL}/healthz`,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: 'pipe',
      stderr: 'pipe',
    },
    {
      // Two "customer sites" on other origins: the first may embed the widget, the second not.
      command: `node host-site/serve.mjs ${hostPort} ${hostPort + 1}`,
      url: `http://127.0.0.1:${hostPort}/healthz`,
      env: { BOARD_URL: baseURL },
      reuseExistingServer: false,
      timeout: 10_000,
    },
  ],
  projects: [
    {
      name: 'chromium',
      use: { ...devices['Desktop Chrome'], launchOptions: chromiumLaunch },
    },
  ],
});
