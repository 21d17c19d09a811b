/**
 * Real `rir serve` processes on one throwaway PostgreSQL database and one shared DATA_DIR (what a
 * deployment with API replicas and worker processes shares), for the scale-out and crash tests.
 */
import { ChildProcess, spawn } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { Client } from 'pg';
import request from 'supertest';

const RIR = path.join(__dirname, '..', '..', 'bin', 'rir');

export interface Cluster {
  databaseUrl: string;
  dataDir: string;
  adminKey: string;
  /** Starts `rir serve --role api` and resolves once /health/live answers. */
  startApi(env?: Record<string, string>): Promise<ServeProcess>;
  /** Starts `rir serve --role worker` and resolves once it has started. */
  startWorker(env?: Record<string, string>): Promise<ServeProcess>;
  close(): Promise<void>;
}

export interface ServeProcess {
  child: ChildProcess;
  /** Base URL of an API process ('' for a worker). */
  url: string;
  output(): string;
  kill(signal: NodeJS.Signals): Promise<void>;
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

export async function startCluster(
  serverUrl: string,
  env: Record<string, string>,
): Promise<Cluster> {
  const name = `rir_jobs_${randomBytes(5).toString('hex')}`;
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const databaseUrl = url.toString();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rir-cluster-'));
  const adminKey = `rir_test_admin_${randomBytes(16).toString('hex')}`;
  const children: ServeProcess[] = [];

  const launch = (args: string[], extra: Record<string, string>): ServeProcess => {
    const child = spawn(process.execPath, [RIR, 'serve', ...args], {
      env: {
        ...process.env,
        LOG_LEVEL: 'warn',
        ...env,
        ...extra,
        DATABASE_URL: databaseUrl,
        DATA_DIR: dataDir,
        ADMIN_API_KEY: adminKey,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const proc: ServeProcess = {
      child,
      url: '',
      output: () => output,
      kill: async (signal) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill(signal);
        await exited;
      },
    };
    children.push(proc);
    return proc;
  };

  const waitFor = async (proc: ServeProcess, ready: () => Promise<boolean>, what: string) => {
    for (let i = 0; i < 1200; i++) {
      if (proc.child.exitCode !== null) {
        throw new Error(`${what} exited with ${proc.child.exitCode}:\n${proc.output()}`);
      }
      if (await ready().catch(() => false)) return;
      await sleep(250);
    }
    throw new Error(`${what} did not start:\n${proc.output()}`);
  };

  return {
    databaseUrl,
    dataDir,
    adminKey,
    async startApi(extra = {}) {
      const port = await freePort();
      const proc = launch(['--role', 'api', '--port', String(port), '--host', '127.0.0.1'], extra);
      proc.url = `http://127.0.0.1:${port}`;
      await waitFor(
        proc,
        async () => (await request(proc.url).get('/health/live')).status === 200,
        'API process',
      );
      return proc;
    },
    async startWorker(extra = {}) {
      const proc = launch(['--role', 'worker'], extra);
      await waitFor(
        proc,
        async () => proc.output().includes('rir worker started'),
        'worker process',
      );
      return proc;
    },
    async close() {
      await Promise.all(children.map((proc) => proc.kill('SIGKILL')));
      const client = new Client({ connectionString: serverUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
