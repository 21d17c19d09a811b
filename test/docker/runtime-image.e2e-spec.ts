import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { layOutRuntimeStage } from './dockerfile';

/**
 * What the Docker images ship: the runtime stage of each Dockerfile laid out from its COPY lines
 * (no Docker engine needed), started with the image's CMD and ENV on a fresh DATA_DIR. A fresh
 * container must answer ready with the bundled default model serving. The server runs on its
 * embedded database, so this runs once, not again against PostgreSQL.
 */
const ROOT = path.join(__dirname, '..', '..');
const DOCKERFILES = ['docker/Dockerfile', 'docker/Dockerfile.gpu'];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The build stage's `npm run build` plus its copy of the non-TypeScript files under src/. Type
 * errors are `npm run typecheck`'s business: tsc's exit status 2 (errors, output written) passes.
 */
function buildDist(outDir: string): void {
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const run = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', outDir], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (run.status !== 0 && run.status !== 2)
    throw new Error(`tsc exited with ${run.status}: ${run.stdout}${run.stderr}`);
  const src = path.join(ROOT, 'src');
  fs.cpSync(src, path.join(outDir, 'src'), {
    recursive: true,
    filter: (file) => fs.statSync(file).isDirectory() || !file.endsWith('.ts'),
  });
}

(process.env.DATABASE_URL ? describe.skip : describe)(
  'the Docker runtime stage (laid out from its COPY lines)',
  () => {
    let work: string;
    let dist: string;
    const children: ChildProcess[] = [];

    beforeAll(() => {
      work = fs.mkdtempSync(path.join(os.tmpdir(), 'rir-image-'));
      dist = path.join(work, 'build', 'dist');
      buildDist(dist);
    }, 300_000);

    afterAll(async () => {
      for (const child of children) {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.kill('SIGKILL');
          await exited;
        }
      }
      if (work) fs.rmSync(work, { recursive: true, force: true });
    });

    it.each(DOCKERFILES)(
      '%s: a fresh container answers ready with the bundled default model serving',
      async (dockerfile) => {
        const app = path.join(work, path.basename(dockerfile), 'app');
        const image = layOutRuntimeStage(
          path.join(ROOT, dockerfile),
          ROOT,
          { nodeModules: path.join(ROOT, 'node_modules'), dist },
          app,
        );
        expect(image.cmd).toEqual(['node', 'bin/rir', 'serve']);
        const dataDir = path.join(work, path.basename(dockerfile), 'data');
        fs.mkdirSync(dataDir);
        const port = await freePort();
        const env: Record<string, string> = {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: dataDir,
          ...image.env,
          DATA_DIR: dataDir,
          PORT: String(port),
          HOST: '127.0.0.1',
          LOG_LEVEL: 'info',
          // No GPU here: the GPU image's tensorflow-gpu backend is swapped for wasm.
          TFJS_BACKEND: 'wasm',
        };
        const [command, ...args] = image.cmd;
        expect(command).toBe('node');
        const child = spawn(process.execPath, args, {
          cwd: app,
          env,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        children.push(child);
        let output = '';
        child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
        child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));

        const url = `http://127.0.0.1:${port}`;
        let ready: { status: number; body: Record<string, unknown> } | null = null;
        for (let i = 0; i < 1200 && child.exitCode === null; i++) {
          const res = await fetch(`${url}/health/ready`).catch(() => null);
          if (res) {
            ready = { status: res.status, body: (await res.json()) as Record<string, unknown> };
            const details = (ready.body.details ?? {}) as Record<string, { deploying?: unknown }>;
            // Up, or down for good: no deploy in progress.
            if (res.status === 200 || (details.model && details.model.deploying === null)) break;
          }
          await sleep(250);
        }
        expect({ exitCode: child.exitCode, status: ready?.status, body: ready?.body }).toEqual({
          exitCode: null,
          status: 200,
          body: expect.objectContaining({
            details: expect.objectContaining({
              model: expect.objectContaining({ status: 'up', modelId: 'default' }),
            }),
          }),
        });
        // The process runs from the laid-out image, not from the checkout.
        expect(output).toContain('deploying the bundled model');

        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      },
      300_000,
    );
  },
);
