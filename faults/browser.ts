// The dashboard in a real browser (Debian's Chromium, never a downloaded one), signed in with the
// suite's session, to see what a person sees during an outage: the "reconnecting" badge of the
// live stream, the "service unavailable" page, and both going away by themselves afterwards.
import { chromium, type Browser, type Page } from '@playwright/test';

export interface DashboardTab {
  page: Page;
  /** The text of the page's body as shown. */
  text(): Promise<string>;
  /** Waits until the body's text matches `pattern`; false after `ms`. */
  shows(pattern: RegExp, ms: number): Promise<boolean>;
  close(): Promise<void>;
}

export async function openDashboard(webUrl: string, sessionCookie: string): Promise<DashboardTab> {
  const browser: Browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const context = await browser.newContext();
  const [name, ...value] = sessionCookie.split('=');
  await context.addCookies([{ name: name!, value: value.join('='), url: webUrl }]);
  const page = await context.newPage();
  await page.goto(webUrl, { waitUntil: 'domcontentloaded', timeout: 30_000 });
  const text = () => page.locator('body').innerText({ timeout: 5_000 });
  return {
    page,
    text,
    async shows(pattern, ms) {
      try {
        await page.waitForFunction((source) => new RegExp(source).test(document.body.innerText), pattern.source, { timeout: ms, polling: 200 });
        return true;
      } catch {
        return false;
      }
    },
    close: () => browser.close(),
  };
}
