/**
 * Crash safety with the real server: kill -9 in the middle of an ingest, restart, and check that every
 * upload that got a 2xx is present and searchable, that the index holds exactly what the database
 * holds, and that no half-written file remains.
 */
import { ChildProcess, spawn } from 'child_process';
import { randomBytes } from 'crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'fs';
import { createServer } from 'net';
import { tmpdir } from 'os';
import * as path from 'path';
import request from 'supertest';
import { tinyPng, writeTinyModel } from '../search/fixtures';

const ROOT = path.join(__dirname, '..', '..');
const TOTAL = 1000;
const KILL_AFTER = 250;
const CONCURRENCY = 4;

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

interface Server {
  child: ChildProcess;
  url: string;
  output: string[];
}

/** Every server this file started, so that none outlives the test run (even after a timeout). */
const started: ChildProcess[] = [];

async function startServer(dataDir: string, adminKey: string): Promise<Server> {
  const port = await freePort();
  const output: string[] = [];
  const child = spawn(
    process.execPath,
    [
      path.join(ROOT, 'bin', 'rir'),
      'serve',
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
      '--data-dir',
      dataDir,
    ],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        DATA_DIR: dataDir,
        DATABASE_URL: '',
        ADMIN_API_KEY: adminKey,
        LOG_LEVEL: 'warn',
        SERVE_ROLE: '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  started.push(child);
  child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`server exited with ${child.exitCode}:\n${output.join('')}`);
    const ready = await request(url)
      .get('/health/live')
      .then((res) => res.status === 200)
      .catch(() => false);
    if (ready) return { child, url, output };
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function killHard(server: Pick<Server, 'child'>): Promise<void> {
  return new Promise((resolve) => {
    if (server.child.exitCode !== null || server.child.signalCode !== null) return resolve();
    server.child.once('exit', () => resolve());
    server.child.kill('SIGKILL');
  });
}

describe('crash safety (real server, kill -9 mid-ingest)', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'rir-crash-'));
  const adminKey = `rir_crash_${randomBytes(16).toString('hex')}`;
  let server: Server | null = null;

  afterAll(async () => {
    await Promise.all(started.map((child) => killHard({ child })));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps every acknowledged upload, searchable, and the index count equal to the database count', async () => {
    await writeTinyModel(dataDir, 'tiny-crash', 7);
    server = await startServer(dataDir, adminKey);
    const admin = (req: request.Test) => req.set('x-api-key', adminKey);
    const deploy = await admin(request(server.url).post('/v1/models/tiny-crash/deploy'));
    expect(deploy.status).toBe(202);
    for (;;) {
      const model = await admin(request(server.url).get('/v1/models/tiny-crash'));
      if (model.body.active) break;
      expect(model.body.status).not.toBe('failed');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    const images = await Promise.all(Array.from({ length: TOTAL }, (_, i) => tinyPng(10_000 + i)));
    const acknowledged = new Map<string, number>();
    let next = 0;
    let killed: Promise<void> | null = null;
    const current = server;
    const uploader = async () => {
      while (next < TOTAL) {
        const n = next++;
        const res = await admin(request(current.url).post('/v1/gallery/images'))
          .attach('files', images[n], `${n}.png`)
          .catch(() => null);
        if (res?.status === 201) acknowledged.set(res.body.items[0].id, n);
        if (acknowledged.size >= KILL_AFTER && !killed) killed = killHard(current);
        if (killed) return;
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, uploader));
    await killed;
    expect(acknowledged.size).toBeGreaterThanOrEqual(KILL_AFTER);
    expect(acknowledged.size).toBeLessThan(TOTAL);

    server = await startServer(dataDir, adminKey);
    const restarted = server;
    const list = await admin(request(restarted.url).get('/v1/gallery/images?limit=1'));
    const total: number = list.body.total;
    expect(total).toBeGreaterThanOrEqual(acknowledged.size);

    const ready = await request(restarted.url).get('/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body.details.index).toMatchObject({
      status: 'up',
      modelId: 'tiny-crash',
      vectors: total,
    });

    const listed = new Set<string>();
    for (let page = 1; listed.size < total; page++) {
      const res = await admin(
        request(restarted.url).get(`/v1/gallery/images?limit=500&page=${page}`),
      );
      res.body.items.forEach((item: { id: string }) => listed.add(item.id));
    }
    for (const [id] of acknowledged) {
      expect(listed.has(id)).toBe(true);
      const similar = await admin(request(restarted.url).get(`/v1/search/similar/${id}?k=1`));
      expect(similar.status).toBe(200);
    }
    // A sample searched by its own image comes back first, with score 1.
    for (const [id, n] of [...acknowledged].slice(0, 20)) {
      const res = await admin(request(restarted.url).post('/v1/search'))
        .attach('file', images[n], 'q.png')
        .field('k', '1');
      expect(res.body.results[0].id).toBe(id);
      expect(res.body.results[0].score).toBeCloseTo(1, 4);
    }

    // Nothing half-written: no temp files, one image file per row.
    const imageFiles = readdirSync(path.join(dataDir, 'images'));
    expect(imageFiles.filter((name) => name.startsWith('.tmp-'))).toEqual([]);
    expect(imageFiles).toHaveLength(total);
    const indexDir = path.join(dataDir, 'index');
    if (existsSync(indexDir))
      expect(readdirSync(indexDir).filter((name) => name.includes('.tmp-'))).toEqual([]);
  }, 600_000);
});
