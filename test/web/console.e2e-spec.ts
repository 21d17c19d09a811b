import type { Page } from 'playwright-core';
import { deployAndWait, writeTinyModel } from '../search/fixtures';
import { editManifest, robustnessBlock } from '../search/robustness-fixture';
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
    const tinyA = await writeTinyModel(t.config.dataDir, 'tiny-a', 1);
    const tinyB = await writeTinyModel(t.config.dataDir, 'tiny-b', 2);
    // tiny-a: figures as training jobs left them before the robustness block: natural R@1 (a
    // fraction, no interval) and ES R@1 (percent, with its interval).
    await editManifest(tinyA, (manifest) => {
      manifest.metrics = {
        recallAt1: 0.625,
        robustness: {
          attack: 'ES',
          eps: 8 / 255,
          recallAt1UnderAttack: 31.5,
          chanceRecallAt1: 20.1,
          estimates: {
            recallAt1UnderAttack: { value: 31.5, low: 22.9, high: 41.6, n: 100, method: 'wilson' },
          },
        },
      };
    });
    // tiny-b: a robustness block (quick suite), as a training job or rir attack --write-manifest writes.
    await editManifest(tinyB, (manifest) => {
      manifest.robustness = robustnessBlock(manifest.weightsSha256 as string, {
        warnings: ['attack too weak: 64 steps x 2 restarts lowered ES:R by 3.0 points'],
      });
    });
    await deployAndWait(t, 'tiny-a');
    base = await listen(t.app);
    browser = await launchBrowser();
    images = await patternImages(4);
    // Variants 0-2 of each pattern are in the gallery from the start; the upload test adds variant 3.
    for (const label of ['stripes', 'rings', 'checks']) {
      let upload = t.http
        .post('/v1/gallery/images')
        .set('x-api-key', t.adminKey)
        .field('label', label);
      for (const image of seeded().filter((candidate) => candidate.label === label))
        upload = upload.attach('files', image.buffer, image.name);
      expect((await upload).status).toBe(201);
    }
  });
  const seeded = () => images.filter((image) => !image.name.endsWith('-3.png'));
  const fresh = () => images.filter((image) => image.name.endsWith('-3.png'));
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
    // Several files in one go, with a label, and a progress bar.
    await page
      .locator('#upload-files')
      .setInputFiles(fresh().map(({ name, mimeType, buffer }) => ({ name, mimeType, buffer })));
    await page.getByText('3 files chosen (').waitFor();
    await page.getByLabel('Label for these images').fill('new');
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await page.getByText('Added 3 images.').waitFor();
    expect(
      await page.getByRole('progressbar', { name: 'Upload progress' }).getAttribute('value'),
    ).toBe(await page.getByRole('progressbar', { name: 'Upload progress' }).getAttribute('max'));
    await page.getByText('12 images; page 1 of 1.').waitFor();
    const tiles = page.getByRole('list', { name: 'Gallery images' }).getByRole('listitem');
    expect(await tiles.count()).toBe(12);
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

    // Delete asks first; Escape keeps the image, confirming removes it from the gallery.
    await page.getByRole('link', { name: 'Gallery' }).click();
    await page.getByLabel('Filter by label').fill('new');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByText('3 images labelled "new"; page 1 of 1.').waitFor();
    const deleteButtons = page.getByRole('button', { name: /^Delete new / });
    await deleteButtons.first().click();
    await page.getByRole('dialog').waitFor();
    await page.keyboard.press('Escape');
    expect(await deleteButtons.count()).toBe(3);
    await deleteButtons.first().click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    await page.getByText('2 images labelled "new"; page 1 of 1.').waitFor();
    const left = await t.http.get('/v1/gallery/images?label=new').set('x-api-key', t.adminKey);
    expect(left.body.total).toBe(2);
    await page.close();
  });

  it('a search key sees only Search and Gallery; admin pages show the API refusal', async () => {
    const page = await browser.newPage();
    await signIn(page, await t.keyFor('search'));
    expect(await navLinks(page)).toEqual(['Search', 'Gallery']);
    await page.getByRole('link', { name: 'Gallery' }).click();
    await page.getByText(/^\d+ images;/).waitFor();
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
    const alert = page.getByRole('alert').filter({ hasText: 'Nothing was stored' });
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(
      /^Nothing was stored\. (Unsupported file|Invalid request): file 1 \(notes\.png\) is not a supported image/,
    );
    expect(await page.getByText('No images were added.').count()).toBe(1);
    await screenshot(page, 'upload-error');
    await page.close();
  });

  it('fits a phone screen: no sideways scrolling on the search page', async () => {
    const page = await browser.newPage(390, 844);
    await signIn(page, await t.keyFor('search'));
    await page
      .locator('#search-file')
      .setInputFiles({ name: 'query.png', mimeType: 'image/png', buffer: images[0].buffer });
    await page.getByText(/^\d+ results from model tiny-/).waitFor();
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

  it('a security key starts a tiny probe and reads its report: figures, curve, warnings, example images', async () => {
    const page = await browser.newPage();
    await signIn(page, await t.keyFor('security'));
    expect(await navLinks(page)).toEqual(['Probes']);
    await page.getByRole('heading', { name: 'Probes', level: 1 }).waitFor();
    await page.getByLabel('eps (one or a list)').fill('2/255, 8/255, 32/255');
    await page.getByLabel('Probe set').selectOption('gallery');
    await page.getByLabel('Sample size').fill('4');
    await page.getByLabel('Gallery size').fill('9');
    await page.getByLabel('PGD steps').fill('2');
    await page.getByLabel('Worst examples kept').fill('2');
    await screenshot(page, 'probes');
    await page.getByRole('button', { name: 'Start probe' }).click();
    await page.waitForURL(/#\/probes\/[0-9a-f-]{36}$/);
    await page.getByRole('heading', { name: 'Per attack' }).waitFor({ timeout: 90_000 });

    // Figures carry their 95% interval and n, R@1 figures their chance level.
    const summary = await page.locator('.figure').allTextContents();
    expect(summary[0]).toMatch(/^\d+\.\d% \[\d+\.\d, \d+\.\d\], n = 4Clean R@1chance \d+\.\d%$/);
    expect(summary[2]).toMatch(
      /^\d+\.\d% \[\d+\.\d, \d+\.\d\], n = 4Adversarial R@1 \(ES\)at eps 32\/255; chance \d+\.\d%$/,
    );
    const verdicts = await page
      .getByRole('list', { name: 'Adversarial R@1 against chance' })
      .getByRole('listitem')
      .allTextContents();
    expect(verdicts).toHaveLength(1);
    expect(verdicts[0]).toMatch(
      /^ES:R \d+\.\d% \[\d+\.\d, \d+\.\d\], n = 4 is (above|at|below) chance \(\d+\.\d%\): /,
    );
    // ES reports two figures; the table shows both, attacked and clean.
    const attackRows = page
      .getByRole('table', { name: 'Figures per attack, attacked and clean' })
      .locator('tbody tr');
    expect(await attackRows.count()).toBe(2);
    expect(await attackRows.first().locator('th, td').nth(1).textContent()).toBe(
      'ES:D (mean shift)',
    );
    expect(await attackRows.nth(1).locator('th, td').nth(2).textContent()).toMatch(
      /^\d+\.\d% \[\d+\.\d, \d+\.\d\], n = 4$/,
    );
    expect(await attackRows.nth(1).locator('th, td').nth(3).textContent()).toMatch(/^\d+\.\d%$/);
    expect(await attackRows.first().locator('th, td').nth(3).textContent()).toBe('–');
    // The curve: one point per eps plus the clean R@1 at eps 0, drawn as inline SVG.
    const chart = page.getByRole('img', { name: 'R@1 under attack versus eps' });
    await chart.waitFor();
    expect(await chart.locator('polyline').count()).toBeGreaterThanOrEqual(1);
    expect(await chart.locator('circle').first().locator('title').textContent()).toMatch(
      /% at eps/,
    );
    const checks = page.getByRole('table', { name: 'Sanity figures' });
    expect(await checks.textContent()).toContain('Largest perturbation');
    // Worst examples: PNGs fetched with the key (original | adversarial | amplified perturbation).
    const examples = page.locator('.examples img');
    expect(await examples.count()).toBe(2);
    await page.waitForFunction(() =>
      [...(globalThis as unknown as PageWindow).document.querySelectorAll('.examples img')].every(
        (img) => img.complete && (img.naturalWidth ?? 0) > 100 && img.src?.startsWith('blob:'),
      ),
    );
    await screenshot(page, 'probe-report');

    await page.getByRole('link', { name: '← All probes' }).click();
    await page
      .getByRole('link', { name: /^Report of probe / })
      .first()
      .waitFor();
    expect(await page.locator('tbody .badge').first().textContent()).toBe('succeeded');
    await page.close();
  });

  it('an admin starts a training job from the form, watches it and cancels it', async () => {
    const page = await browser.newPage();
    await signIn(page, t.adminKey);
    await page.getByRole('link', { name: 'Training' }).click();
    // A bad data set location: the API's 400 message is shown, and no job is listed.
    await page.getByLabel('Data set').fill('folder:../../etc');
    await page.getByRole('button', { name: 'Start training' }).click();
    const refused = page.getByRole('alert').filter({ hasText: 'Invalid request' });
    await refused.waitFor();
    expect(await refused.textContent()).toMatch(
      /^Invalid request: .*not found inside the allowed data roots/,
    );
    await page.getByText('No training jobs yet.').waitFor();

    await page.getByLabel('Data set').fill('mnist');
    await page.getByLabel('Epochs').fill('50');
    await page.getByLabel('Batch size').fill('32');
    await page.getByLabel('Images per class (m)').fill('8');
    await page.getByLabel('Max training images').fill('200');
    await page.getByRole('button', { name: 'Start training' }).click();
    // Either it starts, or the API's refusal is shown (and then the test says why it failed).
    const outcome = page
      .getByText(/^Started training job [0-9a-f-]{36}\.$/)
      .or(page.getByRole('alert'));
    await outcome.first().waitFor();
    expect(await outcome.first().textContent()).toMatch(/^Started training job/);
    await page.locator('tbody .badge', { hasText: 'running' }).waitFor({ timeout: 90_000 });
    // Live progress: the worker's phase (loading data, then training with epoch and step) shows up.
    await page
      .locator('.cell-progress', { hasText: /load-data|train|epoch/ })
      .waitFor({ timeout: 90_000 });
    await screenshot(page, 'training');

    await page.getByRole('button', { name: /^Cancel training job / }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel job' }).click();
    await page.locator('tbody .badge', { hasText: 'cancelled' }).waitFor({ timeout: 60_000 });
    expect(await page.getByRole('button', { name: /^Cancel training job / }).count()).toBe(0);
    await page.close();
  });

  it('an admin compares models and deploys one after confirming, watching the reindex', async () => {
    const page = await browser.newPage();
    await signIn(page, t.adminKey);
    await page.getByRole('link', { name: 'Models' }).click();
    await page.getByText('Serving model: tiny-a.').waitFor();
    const headers = await page.locator('thead th').allTextContents();
    expect(headers).toEqual([
      'Model',
      'Status',
      'Natural R@1',
      'Adversarial R@1 (ES:R)',
      'Worst adversarial R@1',
      'ERS',
      'Registered',
      'Deploy',
    ]);
    const cells = async (name: RegExp) => {
      const row = page.getByRole('row', { name });
      return {
        model: await row.locator('th').innerText(),
        figures: await row.locator('td').allTextContents(),
      };
    };
    // Figures from the manifest's robustness block: each with its 95% interval and n.
    const tinyB = await cells(/^tiny-b/);
    expect(tinyB.figures.slice(0, 5)).toEqual([
      'registered',
      '62.5% [52.7, 71.4], n = 100chance 20.1%',
      '31.5% [22.9, 41.6], n = 100at eps 8/255',
      '25.0% [17.5, 34.3], n = 100GTM at eps 8/255',
      '38.2 [35.1, 41.0], n = 100points, 100 ideal',
    ]);
    // Labelled with the suite that measured them, and the report's warnings.
    expect(tinyB.model).toContain('small-cnn · 16-d');
    expect(tinyB.model).toContain('quick suite eps 8/255 · mnist · ');
    expect(tinyB.model).toContain(
      'warning: attack too weak: 64 steps x 2 restarts lowered ES:R by 3.0 points',
    );
    // An older manifest: what its training job measured; the rest is not measured.
    const tinyA = await cells(/^tiny-a/);
    expect(tinyA.figures.slice(0, 5)).toEqual([
      'deployed',
      '62.5%no interval (older manifest)',
      '31.5% [22.9, 41.6], n = 100at eps 8/255; chance 20.1%',
      'not measured',
      'not measured',
    ]);
    await screenshot(page, 'models');

    // Cancelling the confirmation deploys nothing.
    await page.getByRole('button', { name: 'Deploy model tiny-b' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
    expect(await page.getByText('Serving model: tiny-a.').count()).toBe(1);

    await page.getByRole('button', { name: 'Deploy model tiny-b' }).click();
    expect(await page.getByRole('dialog').textContent()).toContain('Deploy tiny-b?');
    await page.getByRole('dialog').getByRole('button', { name: 'Deploy' }).click();
    await page.getByText('Serving model: tiny-b.').waitFor({ timeout: 60_000 });
    const served = await t.http.get('/v1/models/tiny-b').set('x-api-key', t.adminKey);
    expect(served.body).toMatchObject({ status: 'deployed', active: true });
    await page.close();
  });
});

describeBrowser('web console: a model registry longer than one page (e2e)', () => {
  let t: TestApp;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    t = await createTestApp();
    await writeTinyModel(t.config.dataDir, 'tiny-a', 1);
    await writeTinyModel(t.config.dataDir, 'tiny-b', 2);
    base = await listen(t.app);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('the Models page lists every page of the registry, not only the first', async () => {
    const page = await browser.newPage();
    // The server pages by one model here (it pages by 100): a page per model.
    const requested: string[] = [];
    await page.route(
      (url) => url.pathname === '/v1/models',
      async (route) => {
        const url = new URL(route.request().url());
        requested.push(url.search);
        url.searchParams.set('limit', '1');
        const answer = await route.fetch({ url: url.toString() });
        await route.fulfill({ response: answer });
      },
    );
    await page.goto(`${base}/`);
    await page.getByLabel('API key').fill(t.adminKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: 'Models' }).click();
    // Every registered version (the bundled ones too) has its row: one page each.
    const all = await t.http.get('/v1/models').set('x-api-key', t.adminKey);
    const ids = (all.body.items as { id: string }[]).map((model) => model.id);
    expect(ids).toEqual(expect.arrayContaining(['tiny-a', 'tiny-b']));
    for (const id of ids) await page.getByRole('row', { name: new RegExp(`^${id}`) }).waitFor();
    expect(requested.slice(0, ids.length)).toEqual(ids.map((_, i) => `?page=${i + 1}&limit=100`));
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
    // Sign-in and the first search took 2 of the 4 requests allowed; searching on hits the limit.
    // The page's one alert region (hidden while there is nothing to say).
    const alert = page.locator('main [role="alert"]');
    await page.getByText(/^\d+ results? from model|^Not available right now/).waitFor();
    for (let i = 0; i < 8 && !(await alert.textContent())?.startsWith('Too many'); i++) {
      await page.getByRole('button', { name: 'Search', exact: true }).click();
      await page.waitForFunction(
        () => !(globalThis as unknown as PageWindow).document.querySelector('.results[aria-busy]'),
      );
    }
    // The wait is said once (the server's message says it too: "Too many requests, retry in N s").
    const text = (await alert.textContent()) ?? '';
    expect(text).toMatch(
      /^Too many requests: the server is rate limiting this client\. Try again in \d+ s\.$/,
    );
    expect(text.match(/\d+ s/g)).toHaveLength(1);
    await screenshot(page, 'rate-limited');
    await page.close();
  });
});
