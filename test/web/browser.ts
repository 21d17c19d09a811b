/**
 * Headless Chromium for the console's browser tests: Debian's chromium driven by playwright-core.
 * Missing chromium fails the tests in CI (CI installs it) and skips them on a developer machine.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const chromiumAvailable = existsSync(CHROMIUM_PATH);
export const SCREENSHOT_DIR = path.join(__dirname, '..', '..', 'test-results', 'web');

/** describe when chromium is there or CI demands it; describe.skip otherwise (with a note). */
export function describeBrowser(name: string, body: () => void): void {
  if (chromiumAvailable || process.env.CI) {
    describe(name, () => {
      if (!chromiumAvailable) {
        it('needs chromium', () => {
          throw new Error(
            `Browser tests need Chromium at ${CHROMIUM_PATH} (apt-get install -y chromium); ` +
              'set CHROMIUM_PATH to use another binary',
          );
        });
        return;
      }
      body();
    });
  } else {
    console.warn(`skipping "${name}": no chromium at ${CHROMIUM_PATH} and CI is not set`);
    describe.skip(name, body);
  }
}

export interface Browser {
  context: BrowserContext;
  newPage(width?: number, height?: number): Promise<Page>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  const profile = mkdtempSync(path.join(os.tmpdir(), 'rir-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1200, height: 900 },
  });
  return {
    context,
    async newPage(width = 1200, height = 900) {
      const page = await context.newPage();
      await page.setViewportSize({ width, height });
      return page;
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Saves a full-page screenshot under test-results/web/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Listens on an ephemeral port of 127.0.0.1; returns the base URL. */
export async function listen(app: {
  listen(port: number, host: string): Promise<unknown>;
  getUrl(): Promise<string>;
}): Promise<string> {
  await app.listen(0, '127.0.0.1');
  return (await app.getUrl()).replace('[::1]', '127.0.0.1');
}

/**
 * The little of the DOM the tests read inside the page (the test build has no DOM typings):
 * `const w = globalThis as unknown as PageWindow` in a function passed to page.evaluate.
 */
export interface PageElement {
  id: string;
  name?: string;
  textContent: string | null;
  complete?: boolean;
  naturalWidth?: number;
  src?: string;
}
export interface PageWindow {
  innerWidth: number;
  document: {
    querySelector(selector: string): PageElement | null;
    querySelectorAll(selector: string): Iterable<PageElement>;
    activeElement: PageElement | null;
    documentElement: { scrollWidth: number };
  };
}
