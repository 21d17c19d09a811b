import * as path from 'path';
import { plainToInstance } from 'class-transformer';
import { getMetadataStorage, validateSync } from 'class-validator';
import { EnvironmentVariables, LOG_LEVELS, SERVE_ROLES, TFJS_BACKENDS } from './env.schema';

/** Injection token of the typed configuration: `@Inject(APP_CONFIG) config: AppConfig`. */
export const APP_CONFIG = Symbol('APP_CONFIG');

export type DatabaseConfig = { kind: 'postgres'; url: string } | { kind: 'pglite'; dir: string };

export interface AppConfig {
  port: number;
  host: string;
  /** Absolute path of the data directory. */
  dataDir: string;
  database: DatabaseConfig;
  tfjsBackend?: (typeof TFJS_BACKENDS)[number];
  adminApiKey?: string;
  logLevel: (typeof LOG_LEVELS)[number];
  http: { bodyLimitBytes: number };
  uploads: { maxFileBytes: number; maxPixels: number; maxFiles: number };
  rateLimit: { ttlMs: number; limit: number };
  role: (typeof SERVE_ROLES)[number];
  /** Absolute directories under which `folder:` data sets may be read. */
  dataRoots: string[];
  /** Absolute directory of the bundled model versions; null: the package's models/. */
  bundledModelsDir: string | null;
  jobs: {
    heartbeatMs: number;
    staleMs: number;
    pollMs: number;
    maxAttempts: number;
    /** Nice value of job threads (0 = same priority as the HTTP loop). */
    threadNice: number;
  };
  /** HNSW parameters of new indexes (m, efConstruction) and the default search breadth (efSearch). */
  index: { m: number; efConstruction: number; efSearch: number };
  embedding: {
    /** Nice value of the serving model's embedding worker thread (0 = same priority as the HTTP loop). */
    threadNice: number;
  };
  /** Search by upload: the collection window (0 = no batching) and the largest batch of queries. */
  searchBatch: { windowMs: number; maxBatch: number };
}

export class ConfigValidationError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigValidationError';
  }
}

type Env = Record<string, string | undefined>;

/** Validates the environment (empty strings count as unset) and returns the typed configuration. */
export function loadConfig(env: Env = process.env): AppConfig {
  // Every variable that has a validation rule (optional ones too).
  const known = getMetadataStorage()
    .getTargetValidationMetadatas(EnvironmentVariables, '', true, false)
    .map((rule) => rule.propertyName);
  const raw: Record<string, string> = {};
  for (const name of new Set(known)) {
    const value = env[name];
    if (value !== undefined && value.trim() !== '') raw[name] = value.trim();
  }
  const vars = plainToInstance(EnvironmentVariables, raw);
  const errors = validateSync(vars, { skipMissingProperties: false });
  if (errors.length > 0) {
    throw new ConfigValidationError(
      errors.map((error) => {
        const rules = Object.values(error.constraints ?? {}).join('; ');
        return `${error.property}: ${rules} (got '${String(raw[error.property])}')`;
      }),
    );
  }
  const dataDir = path.resolve(vars.DATA_DIR);
  return {
    port: vars.PORT,
    host: vars.HOST,
    dataDir,
    database: vars.DATABASE_URL
      ? { kind: 'postgres', url: vars.DATABASE_URL }
      : { kind: 'pglite', dir: path.join(dataDir, 'pglite') },
    tfjsBackend: vars.TFJS_BACKEND,
    adminApiKey: vars.ADMIN_API_KEY,
    logLevel: vars.LOG_LEVEL,
    http: { bodyLimitBytes: vars.BODY_LIMIT_BYTES },
    uploads: {
      maxFileBytes: vars.UPLOAD_MAX_FILE_BYTES,
      maxPixels: vars.UPLOAD_MAX_PIXELS,
      maxFiles: vars.UPLOAD_MAX_FILES,
    },
    rateLimit: { ttlMs: vars.RATE_LIMIT_TTL_MS, limit: vars.RATE_LIMIT_MAX },
    role: vars.SERVE_ROLE,
    dataRoots: (vars.DATA_ROOTS ?? path.join(dataDir, 'datasets'))
      .split(',')
      .filter((root) => root.trim() !== '')
      .map((root) => path.resolve(root.trim())),
    bundledModelsDir: vars.BUNDLED_MODELS_DIR ? path.resolve(vars.BUNDLED_MODELS_DIR) : null,
    jobs: {
      heartbeatMs: vars.JOB_HEARTBEAT_MS,
      staleMs: vars.JOB_STALE_MS,
      pollMs: vars.JOB_POLL_MS,
      maxAttempts: vars.JOB_MAX_ATTEMPTS,
      threadNice: vars.JOB_THREAD_NICE,
    },
    index: {
      m: vars.HNSW_M,
      efConstruction: vars.HNSW_EF_CONSTRUCTION,
      efSearch: vars.HNSW_EF_SEARCH,
    },
    embedding: { threadNice: vars.EMBED_THREAD_NICE },
    searchBatch: { windowMs: vars.SEARCH_BATCH_WINDOW_MS, maxBatch: vars.SEARCH_BATCH_MAX },
  };
}
