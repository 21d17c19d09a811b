import type { Page } from 'playwright-core';
import { deployAndWait, writeTinyModel } from '../search/fixtures';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { Browser, describeBrowser, launchBrowser, listen, PageWindow, screenshot } from './browser';
import { patternImages, TestImage } from './images';

describeBrowser('web console in headless Chromium (e2e)', () => {
  let t: TestApp;
  let browser: Browser;
  let base: string;
  let images: TestImage[];

  beforeAll(async () => {
    t = await createTestApp();
    await writeTinyModel(t.config.dataDir, 'tiny-a', 1);
    await deployAndWait(t, 'tiny-a');
    base = await listen(t.app);
    browser = await launchBrowser();
    images = await patternImages(3);
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  async function signIn(page: Page, key: string): Promise<void> {
    await page.goto(`${base}/`);
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
  }

  const navLinks = (page: Page) =>
    page.getByRole('navigation', { name: 'Main' }).getByRole('link').allTextContents();

  it('an admin signs in, uploads images with progress, and searches by upload and by a result', async () => {
    const page = await browser.newPage();
    await signIn(page, t.adminKey);
    expect(await navLinks(page)).toEqual(['Search', 'Gallery', 'Training', 'Models', 'Probes']);

    await page.getByRole('link', { name: 'Gallery' }).click();
    await page.getByRole('heading', { name: 'Gallery' }).waitFor();
    for (const label of ['stripes', 'rings', 'checks']) {
      await page
        .locator('#upload-files')
        .setInputFiles(
          images
            .filter((image) => image.label === label)
            .map(({ name, mimeType, buffer }) => ({ name, mimeType, buffer })),
        );
      await page.getByLabel('Label for these images').fill(label);
      await page.getByRole('button', { name: 'Upload', exact: true }).click();
      await page.getByText('Added 3 images.').waitFor();
    }
    await page.getByText('9 images; page 1 of 1.').waitFor();
    const tiles = page.getByRole('list', { name: 'Gallery images' }).getByRole('listitem');
    expect(await tiles.count()).toBe(9);
    // Thumbnails are fetched with the key and shown from blob URLs.
    await page.waitForFunction(() =>
      [...(globalThis as unknown as PageWindow).document.querySelectorAll('.gallery img')].every(
        (img) => img.complete && img.naturalWidth === 32 && img.src?.startsWith('blob:'),
      ),
    );
    await screenshot(page, 'gallery');

    await page.getByLabel('Filter by label').fill('rings');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByText('3 images labelled "rings"; page 1 of 1.').waitFor();

    await page.getByRole('link', { name: 'Search' }).click();
    await page.getByLabel('Results (k)').fill('5');
    await page
      .locator('#search-file')
      .setInputFiles({ name: 'query.png', mimeType: 'image/png', buffer: images[4].buffer });
    await page.getByText(/^5 results from model tiny-a in [\d.]+ ms\.$/).waitFor();
    const results = page.getByRole('list', { name: 'Results' }).getByRole('button');
    expect(await results.count()).toBe(5);
    // The query is a gallery image: it comes back first with score 1.
    expect(await results.first().getAttribute('aria-label')).toBe(
      'Result 1: rings, score 1.000. Search by this image.',
    );
    await page.waitForFunction(() =>
      [...(globalThis as unknown as PageWindow).document.querySelectorAll('.results img')].every(
        (img) => img.complete && (img.naturalWidth ?? 0) > 0,
      ),
    );
    await screenshot(page, 'search');

    // Clicking a result searches by that gallery item (which is left out of its own results).
    await results.nth(1).click();
    await page.getByText(/^Query: gallery item /).waitFor();
    await page.getByText(/^5 results from model tiny-a/).waitFor();
    const labels = await page.locator('.results .tile-score').allTextContents();
    expect(labels).toHaveLength(5);
    for (const text of labels) expect(Number(text.replace('score ', ''))).toBeLessThanOrEqual(1);

    // The label filter narrows the results.
    await page.getByLabel('Only label').fill('checks');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.waitForFunction(() => {
      const w = globalThis as unknown as PageWindow;
      const labels = [...w.document.querySelectorAll('.results .tile-label')];
      return labels.length > 0 && labels.every((label) => label.textContent === 'checks');
    });
    await page.close();
  });

  it('a search key sees only Search and Gallery; admin pages show the API refusal', async () => {
    const page = await browser.newPage();
    await signIn(page, await t.keyFor('search'));
    expect(await navLinks(page)).toEqual(['Search', 'Gallery']);
    await page.getByRole('link', { name: 'Gallery' }).click();
    await page.getByText(/^9 images;/).waitFor();
    expect(await page.getByRole('button', { name: 'Upload', exact: true }).count()).toBe(0);
    expect(await page.getByRole('button', { name: /^Delete / }).count()).toBe(0);

    await page.goto(`${base}/#/models`);
    const alert = page.getByRole('alert').filter({ hasText: 'Not allowed' });
    await alert.waitFor();
    expect(await alert.textContent()).toBe(
      'Not allowed: This route needs a key with role admin; this key has role search',
    );
    await screenshot(page, 'refused-search-key');
    await page.close();
  });

  it('shows API errors as readable messages: an unknown key, a bad file', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/`);
    await page.getByLabel('API key').fill('not-a-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'not accepted' }).waitFor();
    expect(await page.getByRole('alert').textContent()).toBe(
      'Your API key was not accepted: Invalid API key. Sign in again with a valid key.',
    );
    await screenshot(page, 'sign-in-error');

    await signIn(page, t.adminKey);
    await page.goto(`${base}/#/gallery`);
    await page
      .locator('#upload-files')
      .setInputFiles([
        { name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('these are not pixels') },
      ]);
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    const alert = page.getByRole('alert').filter({ hasText: 'rejected' });
    await alert.waitFor();
    const text = await alert.textContent();
    expect(text).toMatch(
      /^Some uploads were rejected \(nothing of those was stored\)\. file 1 \(notes\.png\): The request was refused \((400|415)\): /,
    );
    expect(text).toContain('notes.png');
    await screenshot(page, 'upload-error');
    await page.close();
  });

  it('fits a phone screen: no sideways scrolling on the search page', async () => {
    const page = await browser.newPage(390, 844);
    await signIn(page, await t.keyFor('search'));
    await page
      .locator('#search-file')
      .setInputFiles({ name: 'query.png', mimeType: 'image/png', buffer: images[0].buffer });
    await page.getByText(/^9 results from model tiny-a/).waitFor();
    const overflow = await page.evaluate(() => {
      const w = globalThis as unknown as PageWindow;
      return w.document.documentElement.scrollWidth - w.innerWidth;
    });
    expect(overflow).toBeLessThanOrEqual(0);
    // Keyboard: from the page heading, Tab walks the file picker, k, the label filter and Search.
    await page.getByRole('heading', { name: 'Search' }).focus();
    const order: string[] = [];
    for (let i = 0; i < 4; i++) {
      await page.keyboard.press('Tab');
      order.push(
        await page.evaluate(() => {
          const active = (globalThis as unknown as PageWindow).document.activeElement;
          return active?.name || active?.id || active?.textContent || '';
        }),
      );
    }
    expect(order).toEqual(['search-file', 'k', 'label', 'Search']);
    await screenshot(page, 'search-phone');
    await page.close();
  });
});

describeBrowser('web console under a rate limit (e2e)', () => {
  let t: TestApp;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    t = await createTestApp({ env: { RATE_LIMIT_MAX: '4', RATE_LIMIT_TTL_MS: '60000' } });
    base = await listen(t.app);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('explains a 429 with the wait the server asks for', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/`);
    await page.getByLabel('API key').fill(await t.keyFor('search'));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    const [image] = await patternImages(1);
    await page
      .locator('#search-file')
      .setInputFiles({ name: 'q.png', mimeType: 'image/png', buffer: image.buffer });
    // No model is deployed on this app: the first searches get a readable 503, then the limit hits.
    const alert = page.getByRole('alert');
    await alert.filter({ hasText: 'No model is deployed yet' }).waitFor();
    expect(await alert.textContent()).toBe(
      'Not available right now: No model is deployed yet: deploy one with POST /v1/models/:id/deploy',
    );
    for (let i = 0; i < 6 && !(await alert.textContent())?.startsWith('Too many'); i++) {
      await page.getByRole('button', { name: 'Search', exact: true }).click();
      await page.waitForFunction(
        () => !(globalThis as unknown as PageWindow).document.querySelector('.results[aria-busy]'),
      );
    }
    expect(await alert.textContent()).toMatch(
      /^Too many requests: the server is rate limiting this client \(.+\)\. Try again in \d+ s\.$/,
    );
    await screenshot(page, 'rate-limited');
    await page.close();
  });
});
