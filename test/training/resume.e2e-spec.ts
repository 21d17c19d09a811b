/**
 * A training job whose process is killed (kill -9) during its first epoch resumes, on the next run,
 * from the step its last checkpoint holds, not from step 0, and says so. Embedded: the one `rir
 * serve` process is killed and started again on the same DATA_DIR. PostgreSQL: a worker process is
 * killed and another one takes the job over.
 */
import { ChildProcess, spawn } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import request from 'supertest';
import { startCluster, type Cluster } from '../jobs/processes';
import { FINISHED, JobBody, pollJob, TINY_JOB } from './helpers';

const ROOT = path.join(__dirname, '..', '..');
const serverUrl = process.env.DATABASE_URL;

const STEPS = 80;
/** One long epoch of robust (PGD) steps, checkpointed every 3 steps. */
const JOB = {
  ...TINY_JOB,
  defense: 'est',
  defenseParams: { eps: 0.03, steps: 4 },
  epochs: 1,
  stepsPerEpoch: STEPS,
  checkpointEverySteps: 3,
};
/** A stale beat only after 10 s: a loaded machine must not take the job from a live worker. */
const JOB_ENV = { JOB_POLL_MS: '200', JOB_HEARTBEAT_MS: '500', JOB_STALE_MS: '10000' };

interface Position {
  epoch: number;
  stepInEpoch: number;
  globalStep: number;
  writtenAt: string | null;
}

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

interface Proc {
  child: ChildProcess;
  output: () => string;
  kill: (signal: NodeJS.Signals) => Promise<void>;
}

function track(child: ChildProcess): Proc {
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return {
    child,
    output: () => output,
    kill: async (signal) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill(signal);
      await exited;
    },
  };
}

/** What the two set-ups share: somewhere to send requests, a process to kill and one to rescue. */
interface Setup {
  url: string;
  adminKey: string;
  /** The process running the job (killed mid-epoch). */
  runner: Proc;
  /** Starts what picks the job up again; returns it. */
  rescue(): Promise<Proc>;
  close(): Promise<void>;
}

/** Embedded PGlite: one `rir serve` (role all) on a fresh DATA_DIR, restarted on the same one. */
async function embeddedSetup(): Promise<Setup> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rir-resume-'));
  const adminKey = `rir_test_admin_${randomBytes(16).toString('hex')}`;
  const procs: Proc[] = [];
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const start = async (): Promise<Proc> => {
    const proc = track(
      spawn(process.execPath, [path.join(ROOT, 'bin', 'rir'), 'serve'], {
        cwd: ROOT,
        env: {
          ...process.env,
          ...JOB_ENV,
          DATA_DIR: dataDir,
          DATABASE_URL: '',
          ADMIN_API_KEY: adminKey,
          PORT: String(port),
          HOST: '127.0.0.1',
          SERVE_ROLE: '',
          LOG_LEVEL: 'info',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    procs.push(proc);
    for (let i = 0; i < 1200; i++) {
      if (proc.child.exitCode !== null)
        throw new Error(`rir serve exited with ${proc.child.exitCode}:\n${proc.output()}`);
      if (
        await request(url)
          .get('/health/live')
          .then(
            (r) => r.status === 200,
            () => false,
          )
      )
        return proc;
      await sleep(250);
    }
    throw new Error(`rir serve did not start:\n${proc.output()}`);
  };
  const runner = await start();
  return {
    url,
    adminKey,
    runner,
    rescue: start,
    close: async () => {
      await Promise.all(procs.map((p) => p.kill('SIGKILL')));
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** PostgreSQL: an API process and a worker process; another worker takes over the job. */
async function postgresSetup(): Promise<Setup> {
  const cluster: Cluster = await startCluster(serverUrl!, JOB_ENV);
  const api = await cluster.startApi();
  const runner = await cluster.startWorker({ LOG_LEVEL: 'info' });
  return {
    url: api.url,
    adminKey: cluster.adminKey,
    runner,
    rescue: () => cluster.startWorker({ LOG_LEVEL: 'info' }),
    close: () => cluster.close(),
  };
}

describe(`a training job killed during its first epoch (${serverUrl ? 'PostgreSQL' : 'embedded'})`, () => {
  let setup: Setup;
  beforeAll(async () => {
    setup = serverUrl ? await postgresSetup() : await embeddedSetup();
  }, 600_000);
  afterAll(() => setup?.close());

  it('resumes at the step of its last checkpoint and says so', async () => {
    const http = () => request(setup.url);
    const res = await http().post('/v1/training-jobs').set('x-api-key', setup.adminKey).send(JOB);
    expect(res.status).toBe(202);
    const id = res.body.id as string;

    // Running in epoch 1, with a checkpoint within it and most of the epoch still to go.
    const checkpointOf = (job: JobBody) => (job.progress?.checkpoint ?? null) as Position | null;
    const running = await pollJob(
      http,
      setup.adminKey,
      id,
      (j) =>
        j.status !== 'running'
          ? FINISHED.includes(j.status)
          : (checkpointOf(j)?.stepInEpoch ?? 0) > 0,
      { everyMs: 100, limit: 3000 },
    );
    expect(running.status).toBe('running');
    const seen = checkpointOf(running)!;
    expect(seen).toMatchObject({ epoch: 1 });
    expect(seen.stepInEpoch).toBeLessThan(STEPS - 10);
    await setup.runner.kill('SIGKILL');

    const rescuer = await setup.rescue();
    const job = await pollJob(http, setup.adminKey, id, (j) => FINISHED.includes(j.status), {
      limit: 5000,
    });
    expect(job.error).toBeNull();
    expect(job.status).toBe('succeeded');
    expect(job.attempts).toBe(2);
    const resumedFrom = (job.result as { resumedFrom: Position }).resumedFrom;
    // The checkpoint seen, or a later one written before the kill; never step 0.
    expect(resumedFrom.epoch).toBe(1);
    expect(resumedFrom.stepInEpoch).toBeGreaterThanOrEqual(seen.stepInEpoch);
    expect(resumedFrom.stepInEpoch).toBeLessThan(STEPS);
    expect(resumedFrom.globalStep).toBe(resumedFrom.stepInEpoch);
    expect(job.progress?.resumedFrom).toEqual(resumedFrom);
    expect(job.modelId).toBe(`train-${id}`);
    expect(rescuer.output()).toContain(
      `training job ${id} attempt 2: resuming at epoch 1 step ${resumedFrom.stepInEpoch} (global step ${resumedFrom.globalStep}) from the checkpoint written at ${resumedFrom.writtenAt}`,
    );
  }, 1_200_000);
});
