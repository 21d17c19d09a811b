import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Client } from 'pg';
import request from 'supertest';
import type TestAgent from 'supertest/lib/agent';
import { createApp } from '../../src/main';
import { ApiKeysService } from '../../src/modules/api-keys/api-keys.service';
import type { Role } from '../../src/common/roles';
import type { AppConfig } from '../../src/config';
import { seedPGliteDir } from './pglite-template';

export interface TestAppOptions {
  /** Extra environment for this app (limits, rate limits, ...). */
  env?: Record<string, string | undefined>;
  /** Start the tfjs backend at boot, as `rir serve` does (default: lazily, on first use). */
  initTfjs?: boolean;
  /**
   * Start without ADMIN_API_KEY, as a fresh `npm start` does (the app then makes its initial admin
   * key); `adminKey` is then '' and `keyFor('admin')` gives no working key.
   */
  withoutAdminKey?: boolean;
}

export interface TestApp {
  app: NestFastifyApplication;
  config: AppConfig;
  /** supertest bound to the app: `await t.http.get('/x').set('x-api-key', t.adminKey)`. */
  http: TestAgent;
  adminKey: string;
  /** A key with this role (created once per app and cached). */
  keyFor(role: Role): Promise<string>;
  /** Stops the app and starts it again on the same data directory / database. */
  restart(options?: TestAppOptions): Promise<TestApp>;
  /** Stops the app and deletes its data directory and throwaway database. */
  close(): Promise<void>;
}

interface Storage {
  dataDir: string;
  /** The throwaway PostgreSQL database, when DATABASE_URL is set. */
  databaseUrl?: string;
  dropDatabase?: () => Promise<void>;
}

/** CREATE DATABASE rir_t_<random> on the server DATABASE_URL points at; dropped by close(). */
async function createThrowawayDatabase(
  serverUrl: string,
): Promise<Pick<Storage, 'databaseUrl' | 'dropDatabase'>> {
  const name = `rir_t_${randomBytes(6).toString('hex')}`;
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    databaseUrl: url.toString(),
    dropDatabase: async () => {
      const client = new Client({ connectionString: serverUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

async function newStorage(): Promise<Storage> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rir-test-'));
  const serverUrl = process.env.DATABASE_URL;
  if (serverUrl) return { dataDir, ...(await createThrowawayDatabase(serverUrl)) };
  await seedPGliteDir(path.join(dataDir, 'pglite'), { migrated: true });
  return { dataDir };
}

async function start(
  storage: Storage,
  adminKey: string,
  options: TestAppOptions,
): Promise<TestApp> {
  const { app, config } = await createApp({
    skipTfjs: !options.initTfjs,
    env: {
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      // High enough that no test trips it by accident; rate-limit tests set their own.
      RATE_LIMIT_MAX: '100000',
      ...options.env,
      DATA_DIR: storage.dataDir,
      DATABASE_URL: storage.databaseUrl ?? '',
      ADMIN_API_KEY: options.withoutAdminKey ? '' : adminKey,
    },
  });
  const keys = new Map<Role, Promise<string>>();
  let closed = false;
  const stop = async () => {
    if (closed) return;
    closed = true;
    await app.close();
  };
  return {
    app,
    config,
    http: request(app.getHttpServer()),
    adminKey: options.withoutAdminKey ? '' : adminKey,
    keyFor(role) {
      if (role === 'admin') return Promise.resolve(options.withoutAdminKey ? '' : adminKey);
      if (!keys.has(role)) {
        keys.set(
          role,
          app
            .get(ApiKeysService)
            .create(`test-${role}`, role)
            .then((k) => k.key),
        );
      }
      return keys.get(role)!;
    },
    async restart(next = options) {
      await stop();
      return start(storage, adminKey, next);
    },
    async close() {
      await stop();
      await storage.dropDatabase?.();
      fs.rmSync(storage.dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A fully configured app (the same createApp as `rir serve`) on fresh storage: a temp DATA_DIR
 * with embedded PGlite, or, when DATABASE_URL is set, a throwaway PostgreSQL database, so test
 * files running in parallel never share state. Call close() in afterAll.
 */
export async function createTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const storage = await newStorage();
  const adminKey = `rir_test_admin_${randomBytes(16).toString('hex')}`;
  try {
    return await start(storage, adminKey, options);
  } catch (error) {
    await storage.dropDatabase?.().catch(() => undefined);
    fs.rmSync(storage.dataDir, { recursive: true, force: true });
    throw error;
  }
}
