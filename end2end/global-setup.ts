import { chromium, FullConfig } from '@playwright/test';
import { chromiumLaunch } from './playwright.config';

export const PASSWORD = 'e2e password 123';
export const STATE = { admin: '.auth/admin.json', member: '.auth/member.json' };

// Signs the admin and the member in through the real login form and keeps their cookies.
export default async function globalSetup(config: FullConfig) {
  const baseURL = config.projects[0].use.baseURL as string;
  const browser = await chromium.launch(chromiumLaunch);
  for (const [who, file] of Object.entries(STATE)) {
    const page = await browser.newPage({ baseURL });
    await page.goto('/login');
    await page.getByLabel('Email').fill(`${who}@example.com`);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${baseURL}/`);
    await page.context().storageState({ path: file });
    await page.close();
  }
  await browser.close();
}
