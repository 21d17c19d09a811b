import { MAX_LIST_LIMIT, MAX_PAGE } from '../../src/common/paging';
import { createTestApp, TestApp } from '../utils/create-test-app';

/**
 * Every page number and limit of a list route reaches SQL (OFFSET / LIMIT): out of range, they are a
 * 400 naming the bound, not a database error answered 500 ("bigint out of range").
 */
describe('paging bounds of the list routes', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t?.close());

  const get = (url: string) => t.http.get(url).set('x-api-key', t.adminKey);

  it.each([
    ['/v1/gallery/images?page=1e20', `page must not be greater than ${MAX_PAGE}`],
    [`/v1/gallery/images?page=${MAX_PAGE + 1}`, `page must not be greater than ${MAX_PAGE}`],
    ['/v1/gallery/images?page=9007199254740993', `page must not be greater than ${MAX_PAGE}`],
    ['/v1/gallery/images?page=0', 'page must not be less than 1'],
    ['/v1/gallery/images?limit=1e20', 'limit must not be greater than 500'],
    ['/v1/gallery/images?size=10', 'property size should not exist'],
    ['/v1/models?limit=0', 'limit must not be less than 1'],
    ['/v1/api-keys?page=0', 'page must not be less than 1'],
    ['/v1/training-jobs?page=0', 'page must not be less than 1'],
    ['/v1/training-jobs?limit=1e20', `limit must not be greater than ${MAX_LIST_LIMIT}`],
    ['/v1/training-jobs?limit=0', 'limit must not be less than 1'],
    ['/v1/probes?limit=1e20', `limit must not be greater than ${MAX_LIST_LIMIT}`],
    ['/v1/probes?limit=-1', 'limit must not be less than 1'],
    ['/v1/probes?status=done', 'status must be one of queued, running, succeeded, failed'],
  ])('GET %s -> 400 "%s"', async (url, message) => {
    const res = await get(url);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    expect(res.body.message).toContain(message);
  });

  it('answers the largest page and limit that are allowed (an empty page past the end)', async () => {
    const gallery = await get(`/v1/gallery/images?page=${MAX_PAGE}&limit=500`);
    expect(gallery.status).toBe(200);
    expect(gallery.body).toEqual({ page: MAX_PAGE, limit: 500, total: 0, items: [] });
    const jobs = await get(`/v1/training-jobs?limit=${MAX_LIST_LIMIT}&page=${MAX_PAGE}`);
    expect(jobs.status).toBe(200);
    expect(jobs.body).toEqual({ items: [], total: 0, page: MAX_PAGE, limit: MAX_LIST_LIMIT });
    const probes = await get(`/v1/probes?limit=${MAX_LIST_LIMIT}&status=queued`);
    expect(probes.status).toBe(200);
    expect(probes.body).toEqual({ items: [], total: 0, page: 1, limit: MAX_LIST_LIMIT });
    // Past the end of a short list read whole: an empty page that still counts them all.
    const keys = await get(`/v1/api-keys?page=2&limit=${MAX_LIST_LIMIT}`);
    expect(keys.status).toBe(200);
    expect(keys.body).toMatchObject({ items: [], page: 2, limit: MAX_LIST_LIMIT });
    expect(keys.body.total).toBeGreaterThan(0);
  });
});
