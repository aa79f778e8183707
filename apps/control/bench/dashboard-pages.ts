// What bench/dashboard.ts measures on one dashboard page, in Debian's Chromium: how long until the
// page is usable, how many elements it draws, and, over an idle window while the fleet
// heartbeats, the bytes it downloads and the CPU the web server spends on it. Pages are chosen by
// URL and judged generically (a visible main heading, no loading line, nothing aria-busy), so the
// same code measures the pages of today and whatever replaces them.
import { readdir, readFile } from 'node:fs/promises';
import { chromium, type Browser, type BrowserContext, type Page } from '@playwright/test';

export interface PageFigures {
  name: string;
  path: string;
  /** From navigation start to heading and data on screen (the second load); undefined when not usable within the timeout. */
  usableMs?: number;
  /** The same for the first load, on a server that has not served this page yet. */
  firstLoadMs?: number;
  /** Elements (document.getElementsByTagName('*')), the most seen: when usable, or after the window. */
  domNodes: number;
  /** Downloaded over the idle window (responses with headers, and stream bytes), per minute. */
  kbPerMinute: number;
  /** Requests that finished in the idle window, per minute. */
  requestsPerMinute: number;
  /** The web server's process tree, as a share of one core over the idle window. */
  webCpuPercent: number;
}

const usableTimeoutMs = 30_000;

/** Chromium as playwright.config.ts launches it. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    // Playwright would exit the process on these; the benchmark's own handler cleans up first.
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** Signs in through the form, as a person would; the context keeps the session cookie. */
export async function signIn(context: BrowserContext, webUrl: string, email: string, password: string): Promise<void> {
  const page = await context.newPage();
  try {
    await page.goto(`${webUrl}/sign-in`);
    const form = page.getByRole('form', { name: 'Sign in' });
    await form.getByLabel('Email').fill(email);
    await form.getByLabel('Password').fill(password);
    await form.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((url) => !url.pathname.startsWith('/sign-in'), { timeout: 30_000 });
  } finally {
    await page.close();
  }
}

/**
 * Evaluated in the page (plain JavaScript: this package has no DOM types): performance.now() once
 * a main heading shows and nothing says it is loading, else false.
 */
const usableProbe = `(() => {
  const visible = (el) => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && getComputedStyle(el).visibility !== 'hidden';
  };
  const heading = document.querySelector('main h1') ?? document.querySelector('h1');
  if (!heading || !visible(heading) || !heading.textContent.trim()) return false;
  if (document.querySelector('[aria-busy="true"]')) return false;
  for (const el of document.querySelectorAll('p, span, div, td, li')) {
    if (el.children.length === 0 && /^Loading\\b/.test(el.textContent.trim()) && visible(el)) return false;
  }
  return performance.now();
})()`;

async function untilUsable(page: Page): Promise<number | undefined> {
  const deadline = Date.now() + usableTimeoutMs;
  // A navigation (a redirect, the router settling) destroys the probe's context: probe again.
  while (Date.now() < deadline) {
    try {
      const handle = await page.waitForFunction(usableProbe, undefined, { timeout: Math.max(1, deadline - Date.now()), polling: 50 });
      return (await handle.jsonValue()) as number;
    } catch (error) {
      if (error instanceof Error && error.name === 'TimeoutError') return undefined;
      console.error(`probing ${page.url()}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
      await page.waitForTimeout(100);
    }
  }
  return undefined;
}

const domCount = (page: Page) => page.evaluate<number>("document.getElementsByTagName('*').length");

/** CPU ticks (user + system) of a process and all its descendants, from /proc. */
export async function treeTicks(pid: number): Promise<number> {
  const stats = new Map<number, { ppid: number; ticks: number }>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const text = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => undefined);
    if (!text) continue;
    // Fields after the command (which may hold spaces): state ppid ... utime(14) stime(15).
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    stats.set(Number(entry), { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) });
  }
  let total = 0;
  const queue = [pid];
  while (queue.length) {
    const current = queue.pop()!;
    total += stats.get(current)?.ticks ?? 0;
    for (const [child, stat] of stats) if (stat.ppid === current) queue.push(child);
  }
  return total;
}

export interface MeasureOptions {
  context: BrowserContext;
  webUrl: string;
  name: string;
  path: string;
  idleSeconds: number;
  webPid: number;
  /** Clock ticks per second (getconf CLK_TCK). */
  ticksPerSecond: number;
}

/** One page, in a tab of its own: loaded once (the first-load time, and a warm server), then measured on a fresh load. */
export async function measurePage(options: MeasureOptions): Promise<PageFigures> {
  const { context, webUrl, path } = options;
  const first = await context.newPage();
  await first.goto(`${webUrl}${path}`, { timeout: usableTimeoutMs }).catch(() => undefined);
  const firstLoadMs = await untilUsable(first);
  await first.close();

  const page = await context.newPage();
  try {
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    let counting = false;
    let finishedBytes = 0;
    let finishedRequests = 0;
    // Requests still open at the end (the event stream): what arrived on them within the window.
    const streaming = new Map<string, number>();
    let eventSourceBytes = 0;
    cdp.on('Network.dataReceived', (event) => {
      if (counting) streaming.set(event.requestId, (streaming.get(event.requestId) ?? 0) + event.encodedDataLength);
    });
    cdp.on('Network.eventSourceMessageReceived', (event) => {
      if (counting) eventSourceBytes += event.data.length + event.eventName.length + event.eventId.length;
    });
    cdp.on('Network.loadingFinished', (event) => {
      if (!counting) return;
      finishedBytes += event.encodedDataLength;
      finishedRequests++;
      streaming.delete(event.requestId);
    });

    await page.goto(`${webUrl}${path}`, { timeout: usableTimeoutMs }).catch(() => undefined);
    const usableMs = await untilUsable(page);
    let domNodes = await domCount(page).catch(() => 0);
    // A moment for what a page does right after it shows (its live stream connecting) before the idle window.
    await page.waitForTimeout(2_000);

    counting = true;
    const startTicks = await treeTicks(options.webPid);
    const started = Date.now();
    await page.waitForTimeout(options.idleSeconds * 1000);
    const seconds = (Date.now() - started) / 1000;
    const ticks = (await treeTicks(options.webPid)) - startTicks;
    counting = false;
    const streamBytes = Math.max([...streaming.values()].reduce((sum, n) => sum + n, 0), eventSourceBytes);
    domNodes = Math.max(domNodes, await domCount(page).catch(() => 0));
    await cdp.detach().catch(() => undefined);
    return {
      name: options.name,
      path,
      usableMs: usableMs === undefined ? undefined : Math.round(usableMs),
      firstLoadMs: firstLoadMs === undefined ? undefined : Math.round(firstLoadMs),
      domNodes,
      kbPerMinute: ((finishedBytes + streamBytes) / 1000) * (60 / seconds),
      requestsPerMinute: finishedRequests * (60 / seconds),
      webCpuPercent: (100 * ticks) / options.ticksPerSecond / seconds,
    };
  } finally {
    await page.close();
  }
}
