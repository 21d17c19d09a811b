/**
 * HTTP load benchmark of search on loopback: starts `rir serve` as a child process (bundled default
 * model), fills the gallery with MNIST images over HTTP, then runs autocannon against search by id
 * and search by upload (28x28 PNG), idle and while images are being ingested. Prints one JSON object.
 *
 *   node -r @swc-node/register bench/http-search.bench.ts [--gallery 70000] [--duration 30] [--connections 32]
 *        [--data-dir DIR]   (reuse a data directory: a gallery already filled is not filled again)
 *        [--fill-only]      (fill the gallery, print its size and stop)
 *        [--runs idle-id,idle-upload,ingest-id,ingest-upload]   (which load runs; default these four;
 *                            idle-live: GET /health/live, the framework's per-request floor)
 *        [--dist]           (serve the compiled dist/ as production does: `npm run build` first)
 *        [--database-url postgres://...]   (PostgreSQL instead of embedded PGlite)
 *        [--cpu-prof DIR]   (V8 CPU profile of the server during each load run, in the order run:
 *                            DIR/server-1.cpuprofile, ...; mkdir DIR first)
 *        [--log-level warn] (the server's LOG_LEVEL)
 *        [--ef N]           (search by id asks for ef=N; default: the index's efSearch)
 *        [--versus TREE:DIR --rounds 8]   (A/B of search by id: a second server from another checkout
 *                            TREE with `npm run build` done, on its own copy DIR of the data directory;
 *                            then `--rounds` rounds of `--duration` seconds of load on each server in
 *                            turn, so that the other work on the machine weighs on both alike; prints
 *                            the median CPU µs per request, requests/s and p99 of each, instead of the
 *                            runs above)
 *        [--versus-load id|upload|ingest-id|ingest-upload]   (what each --versus slice loads: search
 *                            by id (default) or by upload, idle or while 50-image batches are ingested
 *                            into the server under load)
 *        [--env K=V,K=V] [--versus-env K=V,K=V]   (extra environment of the first / the --versus
 *                            server: an A/B of settings runs --versus .:COPY_OF_DIR with two --env's,
 *                            e.g. SEARCH_BATCH_WINDOW_MS=2 against SEARCH_BATCH_WINDOW_MS=0)
 *
 * Search by id walks through every gallery item's id (in uuid order, i.e. shuffled), not a few pages.
 */
import { ChildProcess, spawn } from 'child_process';
import { randomBytes } from 'crypto';
import { mkdtempSync, rmSync } from 'fs';
import { createServer } from 'net';
import { cpus, loadavg, tmpdir } from 'os';
import * as path from 'path';
import { mnistPngs } from '../src/modules/gallery/demo-gallery';
import { arg, flag, runMain } from './lib/args';
import { cpuSeconds, stopChildren, stopOnSignals } from './lib/processes';
import { median } from './lib/stats';

const ROOT = path.join(__dirname, '..');
/** How long a server gets to shut down cleanly (it saves the index of a large gallery) before a kill. */
const SERVER_STOP_GRACE_MS = 60_000;

/** The part of autocannon's API used here (the package ships no type declarations). */
interface RawRequest {
  method?: string;
  path?: string;
  body?: Buffer;
  headers?: Record<string, string>;
}
interface Percentiles {
  average: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  total: number;
}
interface AutocannonResult {
  requests: Percentiles;
  latency: Percentiles;
  errors: number;
  timeouts: number;
  non2xx: number;
}
interface AutocannonOptions {
  url: string;
  connections: number;
  duration: number;
  headers?: Record<string, string>;
  requests: (RawRequest & { setupRequest?: (req: RawRequest) => RawRequest })[];
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon = require('autocannon') as (
  options: AutocannonOptions,
  done: (error: Error | null, result: AutocannonResult) => void,
) => unknown;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function http(url: string, init: RequestInit & { key: string }): Promise<Response> {
  return fetch(url, { ...init, headers: { ...(init.headers ?? {}), 'x-api-key': init.key } });
}

function multipart(fields: [string, Buffer | string, string?][]): {
  body: Buffer;
  contentType: string;
} {
  const boundary = `----rir${randomBytes(8).toString('hex')}`;
  const parts: Buffer[] = [];
  for (const [name, value, filename] of fields) {
    const disposition = filename
      ? `form-data; name="${name}"; filename="${filename}"`
      : `form-data; name="${name}"`;
    const type = filename ? 'Content-Type: image/png\r\n' : '';
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n${type}\r\n`));
    parts.push(typeof value === 'string' ? Buffer.from(value) : value, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** Uploads images in requests of `batch` files, `parallel` requests at a time; returns images/s. */
async function ingest(
  base: string,
  key: string,
  pngs: Buffer[],
  label: string,
  batch = 100,
  parallel = 2,
): Promise<number> {
  const started = Date.now();
  let next = 0;
  const worker = async () => {
    while (next < pngs.length) {
      const start = next;
      next += batch;
      const form = multipart([
        ['label', label],
        ...pngs
          .slice(start, start + batch)
          .map((png, i) => ['files', png, `${start + i}.png`] as [string, Buffer, string]),
      ]);
      const res = await http(`${base}/v1/gallery/images`, {
        method: 'POST',
        key,
        body: form.body,
        headers: { 'content-type': form.contentType },
      });
      if (res.status !== 201) throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return pngs.length / ((Date.now() - started) / 1000);
}

/** CPU seconds (user + system, all threads) a process has used so far; NaN where /proc is missing. */
function processCpuSeconds(pid: number | undefined): number {
  const { user, system } = cpuSeconds(pid);
  return user + system;
}

/** Deletes every gallery item with this label; returns how many. */
async function removeLabel(base: string, key: string, label: string): Promise<number> {
  let removed = 0;
  for (;;) {
    const page = (await (
      await http(`${base}/v1/gallery/images?limit=500&label=${label}`, { key })
    ).json()) as { items: { id: string }[] };
    if (page.items.length === 0) return removed;
    for (const item of page.items) {
      const res = await http(`${base}/v1/gallery/images/${item.id}`, { method: 'DELETE', key });
      if (res.status !== 204) throw new Error(`delete answered ${res.status}`);
      removed++;
    }
  }
}

function summarise(result: AutocannonResult) {
  return {
    requestsPerSecond: Math.round(result.requests.average),
    latencyMs: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
    },
    requests: result.requests.total,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
  };
}

function run(options: AutocannonOptions): Promise<AutocannonResult> {
  return new Promise((resolve, reject) => {
    autocannon(options, (error, result) => (error ? reject(error) : resolve(result)));
  });
}

/**
 * Search-by-upload embedding batches so far (the server's search_upload_embedding_batch_size
 * histogram): how many batches, and how many queries they held.
 */
async function uploadBatches(base: string): Promise<{ batches: number; queries: number }> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const read = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return {
    batches: read('search_upload_embedding_batch_size_count'),
    queries: read('search_upload_embedding_batch_size_sum'),
  };
}

/** `K=V,K=V` as an environment object. */
function envArg(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of text.split(',').filter((x) => x !== '')) {
    const at = pair.indexOf('=');
    if (at < 1) throw new Error(`expected K=V, got '${pair}'`);
    env[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return env;
}

/** Inverted MNIST images (new content, not duplicates), one salted corner pixel so reruns are new too. */
async function invertedPngs(count: number): Promise<Buffer[]> {
  const extra = (await mnistPngs(count, 0)).map((image) => image.png);
  const sharp = (await import('sharp')).default;
  const salt = randomBytes(extra.length);
  return Promise.all(
    extra.map(async (png, i) => {
      const { data, info } = await sharp(png).negate().raw().toBuffer({ resolveWithObject: true });
      data[0] = salt[i];
      const raw = { width: info.width, height: info.height, channels: info.channels };
      return sharp(data, { raw }).png().toBuffer();
    }),
  );
}

async function main(): Promise<void> {
  const galleryTarget = Number(arg('gallery', '70000'));
  const duration = Number(arg('duration', '30'));
  const connections = Number(arg('connections', '32'));
  const keepDir = flag('data-dir');
  const dataDir = keepDir
    ? path.resolve(arg('data-dir', ''))
    : mkdtempSync(path.join(tmpdir(), 'rir-http-bench-'));
  const adminKey = `rir_bench_admin_${randomBytes(12).toString('hex')}`;
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const runs = new Set(arg('runs', 'idle-id,idle-upload,ingest-id,ingest-upload').split(','));
  const databaseUrl = arg('database-url', '');
  const cpuProfDir = arg('cpu-prof', '');
  const logLevel = arg('log-level', 'warn');
  const ef = arg('ef', '');
  const useDist = flag('dist');
  const mainEnv = envArg(arg('env', ''));
  const launch = (root: string, dir: string, port: number, extraEnv = mainEnv) =>
    spawn(
      process.execPath,
      [
        ...(cpuProfDir ? ['-r', path.join(__dirname, 'cpu-profile-hook.js')] : []),
        path.join(root, 'bin', 'rir'),
        'serve',
        '--port',
        String(port),
        '--host',
        '127.0.0.1',
        '--data-dir',
        dir,
      ],
      {
        cwd: root,
        env: {
          ...process.env,
          ADMIN_API_KEY: adminKey,
          DATABASE_URL: databaseUrl,
          LOG_LEVEL: logLevel,
          ...(useDist ? { RIR_USE_DIST: '1' } : {}),
          ...(cpuProfDir ? { RIR_CPU_PROFILE: path.resolve(cpuProfDir, 'server') } : {}),
          RATE_LIMIT_MAX: '1000000000',
          ...extraEnv,
        },
        stdio: ['ignore', 'inherit', 'inherit'],
      },
    );
  /** Waits until the server is ready; returns a new search key. */
  const ready = async (url: string, server: ChildProcess): Promise<string> => {
    for (;;) {
      const up = await fetch(`${url}/health/ready`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (up) break;
      if (server.exitCode !== null) throw new Error(`server exited with ${server.exitCode}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const keyRes = await http(`${url}/v1/api-keys`, {
      method: 'POST',
      key: adminKey,
      body: JSON.stringify({ name: 'bench', role: 'search' }),
      headers: { 'content-type': 'application/json' },
    });
    return ((await keyRes.json()) as { key: string }).key;
  };
  const children: ChildProcess[] = [];
  stopOnSignals(children, { graceMs: SERVER_STOP_GRACE_MS, name: 'rir serve' });
  const child = launch(ROOT, dataDir, port);
  children.push(child);
  try {
    const searchKey = await ready(base, child);

    const count = async () =>
      (
        (await (await http(`${base}/v1/gallery/images?limit=1`, { key: adminKey })).json()) as {
          total: number;
        }
      ).total;
    let ingestImagesPerSecond: number | null = null;
    const have = await count();
    if (have < galleryTarget) {
      const images = await mnistPngs(galleryTarget - have, have);
      ingestImagesPerSecond = Math.round(
        await ingest(
          base,
          adminKey,
          images.map((i) => i.png),
          'mnist',
        ),
      );
    }
    const gallerySize = await count();
    if (flag('fill-only')) {
      console.log(JSON.stringify({ benchmark: 'http-search', gallerySize, ingestImagesPerSecond }));
      return;
    }

    // Ids to query: every gallery item, in a shuffled order, so that a run of up to
    // gallerySize requests never repeats an id (nothing is served from a warm corner of the graph).
    // Query images: test images, which are also in the gallery.
    const galleryIds = async (url: string) => {
      const all: string[] = [];
      for (let page = 1; ; page++) {
        const res = (await (
          await http(`${url}/v1/gallery/images?limit=500&page=${page}`, { key: adminKey })
        ).json()) as { items: { id: string }[] };
        if (res.items.length === 0) break;
        all.push(...res.items.map((item) => item.id));
      }
      // A fixed permutation (id order is random already; this just breaks up insertion batches).
      return all.sort((a, b) => a.localeCompare(b));
    };
    const ids = await galleryIds(base);
    const queries = (await mnistPngs(200)).map((image) =>
      multipart([
        ['file', image.png, 'q.png'],
        ['k', '10'],
      ]),
    );
    let n = 0;
    const efQuery = ef ? `&ef=${ef}` : '';
    const byId: AutocannonOptions = {
      url: base,
      connections,
      duration,
      headers: { 'x-api-key': searchKey },
      requests: [
        {
          method: 'GET',
          setupRequest: (req) => ({
            ...req,
            path: `/v1/search/similar/${ids[n++ % ids.length]}?k=10${efQuery}`,
          }),
        },
      ],
    };
    const uploadRequests = (key: string): AutocannonOptions['requests'] => [
      {
        method: 'POST',
        path: '/v1/search',
        setupRequest: (req) => {
          const query = queries[n++ % queries.length];
          return {
            ...req,
            body: query.body,
            headers: { 'x-api-key': key, 'content-type': query.contentType },
          };
        },
      },
    ];
    const byUpload: AutocannonOptions = {
      url: base,
      connections,
      duration,
      requests: uploadRequests(searchKey),
    };
    const versus = arg('versus', '');
    if (versus) {
      const [tree, dir] = versus.split(':');
      if (!tree || !dir) throw new Error('--versus TREE:DATADIR');
      const otherPort = await freePort();
      const otherBase = `http://127.0.0.1:${otherPort}`;
      const otherEnv = envArg(arg('versus-env', ''));
      const other = launch(path.resolve(tree), path.resolve(dir), otherPort, otherEnv);
      children.push(other);
      const otherKey = await ready(otherBase, other);
      const otherIds = await galleryIds(otherBase);
      type Slice = {
        cpuUs: number;
        rps: number;
        p50: number;
        p99: number;
        errors: number;
        load: number;
        ingested?: number;
        meanUploadBatch?: number;
      };
      const load = arg('versus-load', 'id');
      if (!['id', 'upload', 'ingest-id', 'ingest-upload'].includes(load))
        throw new Error(`--versus-load id|upload|ingest-id|ingest-upload, got '${load}'`);
      const inverted = load.startsWith('ingest-') ? await invertedPngs(4000) : [];
      const servers = [
        {
          name: ROOT,
          env: mainEnv,
          pid: child.pid,
          url: base,
          key: searchKey,
          ids,
          slices: [] as Slice[],
        },
        {
          name: path.resolve(tree),
          env: otherEnv,
          pid: other.pid,
          url: otherBase,
          key: otherKey,
          ids: otherIds,
          slices: [] as Slice[],
        },
      ];
      const rounds = Number(arg('rounds', '8'));
      for (let round = 0; round < rounds; round++) {
        for (const server of round % 2 === 0 ? servers : [...servers].reverse()) {
          const loadAverage = loadavg()[0];
          const before = processCpuSeconds(server.pid);
          const batchesBefore = await uploadBatches(server.url);
          let ingesting = inverted.length > 0;
          let ingested = 0;
          const ingestLoop = (async () => {
            for (let i = 0; ingesting && i < inverted.length; i += 50) {
              await ingest(server.url, adminKey, inverted.slice(i, i + 50), 'inverted', 50, 1);
              ingested += Math.min(50, inverted.length - i);
            }
          })();
          const result = await run(
            load.endsWith('upload')
              ? {
                  url: server.url,
                  connections,
                  duration,
                  requests: uploadRequests(server.key),
                }
              : {
                  url: server.url,
                  connections,
                  duration,
                  headers: { 'x-api-key': server.key },
                  requests: [
                    {
                      method: 'GET',
                      setupRequest: (req) => ({
                        ...req,
                        path: `/v1/search/similar/${server.ids[n++ % server.ids.length]}?k=10${efQuery}`,
                      }),
                    },
                  ],
                },
          );
          ingesting = false;
          await ingestLoop;
          const cpu = processCpuSeconds(server.pid) - before;
          const batchesAfter = await uploadBatches(server.url);
          const batches = batchesAfter.batches - batchesBefore.batches;
          server.slices.push({
            cpuUs: Math.round((cpu * 1e6) / Math.max(1, result.requests.total)),
            rps: Math.round(result.requests.average),
            p50: result.latency.p50,
            p99: result.latency.p99,
            errors: result.errors + result.timeouts + result.non2xx,
            load: loadAverage,
            ...(inverted.length > 0 ? { ingested } : {}),
            // Queries per embedding call of the server's micro-batcher (1 with batching off).
            ...(batches > 0
              ? {
                  meanUploadBatch: Number(
                    ((batchesAfter.queries - batchesBefore.queries) / batches).toFixed(2),
                  ),
                }
              : {}),
          });
          if (inverted.length > 0) await removeLabel(server.url, adminKey, 'inverted');
        }
      }
      console.log(
        JSON.stringify(
          {
            benchmark: 'http-search versus',
            date: new Date().toISOString(),
            cpuModel: cpus()[0]?.model,
            gallerySize,
            rounds,
            sliceSeconds: duration,
            connections,
            load,
            servers: servers.map((server) => ({
              tree: server.name,
              env: server.env,
              medianServerCpuUsPerRequest: median(server.slices.map((x) => x.cpuUs)),
              medianRequestsPerSecond: median(server.slices.map((x) => x.rps)),
              medianP50Ms: median(server.slices.map((x) => x.p50)),
              medianP99Ms: median(server.slices.map((x) => x.p99)),
              errors: server.slices.reduce((sum, x) => sum + x.errors, 0),
              slices: server.slices,
            })),
          },
          null,
          2,
        ),
      );
      return;
    }
    const measure = async (name: string, options: AutocannonOptions) => {
      if (!runs.has(name)) return undefined;
      const before = loadavg()[0];
      const serverCpuBefore = processCpuSeconds(child.pid);
      const clientCpuBefore = process.cpuUsage();
      if (cpuProfDir) child.kill('SIGWINCH'); // start profiling (bench/cpu-profile-hook.js)
      const result = summarise(await run(options));
      if (cpuProfDir) child.kill('SIGWINCH'); // stop and write
      const serverCpu = processCpuSeconds(child.pid) - serverCpuBefore;
      const clientCpu = process.cpuUsage(clientCpuBefore);
      return {
        ...result,
        // CPU time per request does not depend on how much of the machine others leave us:
        // 1e6 / serverCpuUsPerRequest is what one dedicated core would serve (all threads).
        serverCpuUsPerRequest: Math.round((serverCpu * 1e6) / Math.max(1, result.requests)),
        serverCpuCores: Number((serverCpu / duration).toFixed(2)),
        clientCpuCores: Number(((clientCpu.user + clientCpu.system) / 1e6 / duration).toFixed(2)),
        loadAverage1m: { before, after: loadavg()[0] },
      };
    };
    // The framework's floor: a public route that does nothing (no key, no database).
    const live: AutocannonOptions = {
      url: `${base}/health/live`,
      connections,
      duration,
      requests: [{ method: 'GET' }],
    };
    const idle = {
      healthLive: await measure('idle-live', live),
      byId: await measure('idle-id', byId),
      byUpload: await measure('idle-upload', byUpload),
    };

    // The same while images are being ingested (inverted MNIST images: new content, not duplicates).
    const ingestRuns = runs.has('ingest-id') || runs.has('ingest-upload');
    const inverted = await invertedPngs(ingestRuns ? 4000 : 0);
    let ingesting = true;
    let ingestedDuringLoad = 0;
    const ingestLoop = (async () => {
      for (let i = 0; ingesting && i < inverted.length; i += 50) {
        await ingest(base, adminKey, inverted.slice(i, i + 50), 'inverted', 50, 1);
        ingestedDuringLoad += Math.min(50, inverted.length - i);
      }
    })();
    const whileIngesting = {
      byId: await measure('ingest-id', byId),
      byUpload: await measure('ingest-upload', byUpload),
    };
    ingesting = false;
    await ingestLoop;
    // Leave the gallery as it was (the next run on this data directory measures the same gallery).
    const removed = await removeLabel(base, adminKey, 'inverted');

    console.log(
      JSON.stringify(
        {
          benchmark: 'http-search',
          date: new Date().toISOString(),
          cpus: cpus().length,
          cpuModel: cpus()[0]?.model,
          database: databaseUrl ? 'postgres' : 'pglite',
          server: useDist ? 'dist' : 'ts (swc)',
          logLevel,
          byIdEf: ef ? Number(ef) : 'default',
          gallerySize,
          ingestImagesPerSecond,
          durationSeconds: duration,
          connections,
          idle,
          whileIngesting: { ...whileIngesting, imagesIngested: ingestedDuringLoad, removed },
        },
        null,
        2,
      ),
    );
  } finally {
    // SIGTERM lets `rir serve` save its index and release DATA_DIR's database lock; one that has not
    // exited after SERVER_STOP_GRACE_MS is killed, so the bench never leaves a server behind.
    await stopChildren(children, { graceMs: SERVER_STOP_GRACE_MS, name: 'rir serve' });
    if (!keepDir) rmSync(dataDir, { recursive: true, force: true });
  }
}

runMain('http-search', main);
