import 'reflect-metadata';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, MinLength, Min } from 'class-validator';

export const TFJS_BACKENDS = ['wasm', 'tensorflow', 'tensorflow-gpu', 'webgpu', 'cpu'] as const;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** What a `rir serve` process does: serve HTTP and enqueue jobs (api), run jobs (worker), or both. */
export const SERVE_ROLES = ['api', 'worker', 'all'] as const;

/**
 * The environment variables the service reads, with their rules and defaults. Property names are
 * the variable names, so every validation message names the variable that is wrong.
 */
export class EnvironmentVariables {
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT = 3000;

  @IsString()
  HOST = '0.0.0.0';

  @IsString()
  @MinLength(1)
  DATA_DIR = './data';

  @IsOptional()
  @Matches(/^postgres(ql)?:\/\/\S+$/, {
    message: 'DATABASE_URL must be a postgres:// or postgresql:// URL',
  })
  DATABASE_URL?: string;

  @IsOptional()
  @IsIn(TFJS_BACKENDS)
  TFJS_BACKEND?: (typeof TFJS_BACKENDS)[number];

  @IsOptional()
  @IsString()
  @MinLength(16, { message: 'ADMIN_API_KEY must be at least 16 characters long' })
  ADMIN_API_KEY?: string;

  @IsIn(LOG_LEVELS)
  LOG_LEVEL: (typeof LOG_LEVELS)[number] = 'info';

  /** Largest JSON or form body accepted, in bytes. */
  @Type(() => Number)
  @IsInt()
  @Min(1024)
  BODY_LIMIT_BYTES = 1024 * 1024;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  UPLOAD_MAX_FILE_BYTES = 10 * 1024 * 1024;

  /** Largest decoded image (width x height) accepted, against decompression bombs. */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  UPLOAD_MAX_PIXELS = 25_000_000;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  UPLOAD_MAX_FILES = 100;

  /** Rate-limit window and the number of requests each client may make in it. */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  RATE_LIMIT_TTL_MS = 60_000;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  RATE_LIMIT_MAX = 600;

  /**
   * HNSW graph degree and build breadth for indexes built from now on (a stored index keeps the graph it
   * was built with), and the default search breadth (a request's ?ef= overrides it). At 1M 128-d vectors
   * M 16 takes 1.53x the raw vectors' memory and M 12 1.46x (docs/BENCHMARKS.md).
   */
  @Type(() => Number)
  @IsInt()
  @Min(4)
  @Max(64)
  HNSW_M = 16;

  @Type(() => Number)
  @IsInt()
  @Min(10)
  @Max(2000)
  HNSW_EF_CONSTRUCTION = 200;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(10000)
  HNSW_EF_SEARCH = 64;

  @IsIn(SERVE_ROLES)
  SERVE_ROLE: (typeof SERVE_ROLES)[number] = 'all';

  /** Directories under which `folder:` training data may live (comma-separated); default DATA_DIR/datasets. */
  @IsOptional()
  @IsString()
  DATA_ROOTS?: string;

  /**
   * The bundled model versions: each sub-directory (manifest.json + weights) is registered under its
   * name at start-up. Default: the package's models/ directory.
   */
  @IsOptional()
  @IsString()
  BUNDLED_MODELS_DIR?: string;

  /** Jobs: how often a running job's worker beats, and after how long without a beat it counts as dead. */
  @Type(() => Number)
  @IsInt()
  @Min(50)
  JOB_HEARTBEAT_MS = 1000;

  @Type(() => Number)
  @IsInt()
  @Min(200)
  JOB_STALE_MS = 15_000;

  /** How often an idle worker looks for queued jobs. */
  @Type(() => Number)
  @IsInt()
  @Min(50)
  JOB_POLL_MS = 1000;

  /** Runs of one job (the first plus resumes after a worker died) before it is marked failed. */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  JOB_MAX_ATTEMPTS = 3;

  /**
   * Nice value of job threads (0-19; Linux applies it to the thread alone). Training and probes
   * then yield the CPU to the HTTP event loop and the embedding worker when cores are scarce.
   */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(19)
  JOB_THREAD_NICE = 10;

  /**
   * Nice value of the serving model's embedding worker thread (0-19). Ingest batches then give way to
   * the HTTP loop when both want the same core (search p99 while images stream in); below the job
   * threads' value so that embedding still comes before training and probes.
   */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(19)
  EMBED_THREAD_NICE = 5;

  /**
   * Search by upload batches the embeddings of concurrent queries: the first query opens a window of
   * SEARCH_BATCH_WINDOW_MS in which others join one call to the embedding worker; a batch of
   * SEARCH_BATCH_MAX queries goes at once. 0 turns batching off (each query is embedded on its own).
   */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(1000)
  SEARCH_BATCH_WINDOW_MS = 2;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1024)
  SEARCH_BATCH_MAX = 32;
}
