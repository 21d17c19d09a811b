import * as path from 'path';
import { ConfigValidationError, loadConfig } from './app-config';

describe('loadConfig', () => {
  it('applies the documented defaults with embedded PGlite in DATA_DIR', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 3000,
      host: '0.0.0.0',
      dataDir: path.resolve('data'),
      database: { kind: 'pglite', dir: path.resolve('data', 'pglite') },
      logLevel: 'info',
      http: { bodyLimitBytes: 1048576 },
      uploads: { maxFileBytes: 10485760, maxPixels: 25000000, maxFiles: 100 },
      rateLimit: { ttlMs: 60000, limit: 600 },
    });
    expect(config.tfjsBackend).toBeUndefined();
    expect(config.adminApiKey).toBeUndefined();
  });

  it('converts numbers and selects PostgreSQL when DATABASE_URL is set', () => {
    const config = loadConfig({
      PORT: '8080',
      DATABASE_URL: 'postgres://u:p@db:5432/rir',
      UPLOAD_MAX_FILES: '7',
      TFJS_BACKEND: 'cpu',
      DATA_DIR: '/srv/rir',
    });
    expect(config.port).toBe(8080);
    expect(config.uploads.maxFiles).toBe(7);
    expect(config.tfjsBackend).toBe('cpu');
    expect(config.database).toEqual({ kind: 'postgres', url: 'postgres://u:p@db:5432/rir' });
    expect(config.dataDir).toBe('/srv/rir');
  });

  it('reads the HNSW parameters, with hnswlib-style defaults', () => {
    expect(loadConfig({}).index).toEqual({ m: 16, efConstruction: 200, efSearch: 64 });
    expect(
      loadConfig({ HNSW_M: '12', HNSW_EF_CONSTRUCTION: '100', HNSW_EF_SEARCH: '48' }).index,
    ).toEqual({ m: 12, efConstruction: 100, efSearch: 48 });
  });

  it('reads the search-by-upload batching settings (a window of 0 turns batching off)', () => {
    expect(loadConfig({}).searchBatch).toEqual({ windowMs: 2, maxBatch: 32 });
    expect(loadConfig({ SEARCH_BATCH_WINDOW_MS: '0', SEARCH_BATCH_MAX: '64' }).searchBatch).toEqual(
      { windowMs: 0, maxBatch: 64 },
    );
  });

  it('reads optional variables that have no default', () => {
    const config = loadConfig({ ADMIN_API_KEY: 'k'.repeat(16), TFJS_BACKEND: 'wasm' });
    expect(config.adminApiKey).toBe('k'.repeat(16));
    expect(config.tfjsBackend).toBe('wasm');
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({ PORT: '', DATABASE_URL: ' ' }).database.kind).toBe('pglite');
  });

  it.each([
    ['PORT', 'abc', /PORT: .*PORT must be an integer number.*\(got 'abc'\)/],
    ['PORT', '70000', /PORT: PORT must not be greater than 65535/],
    [
      'DATABASE_URL',
      'mysql://x',
      /DATABASE_URL: DATABASE_URL must be a postgres:\/\/ or postgresql:\/\/ URL/,
    ],
    [
      'TFJS_BACKEND',
      'cuda',
      /TFJS_BACKEND: TFJS_BACKEND must be one of the following values: wasm, tensorflow, tensorflow-gpu, webgpu, cpu/,
    ],
    ['ADMIN_API_KEY', 'short', /ADMIN_API_KEY: ADMIN_API_KEY must be at least 16 characters long/],
    ['LOG_LEVEL', 'loud', /LOG_LEVEL: LOG_LEVEL must be one of the following values/],
    ['BODY_LIMIT_BYTES', '10', /BODY_LIMIT_BYTES must not be less than 1024/],
    ['RATE_LIMIT_MAX', '0', /RATE_LIMIT_MAX must not be less than 1/],
    ['HNSW_M', '2', /HNSW_M: HNSW_M must not be less than 4/],
    ['HNSW_EF_SEARCH', '1.5', /HNSW_EF_SEARCH: .*must be an integer number/],
    ['SEARCH_BATCH_WINDOW_MS', '-1', /SEARCH_BATCH_WINDOW_MS must not be less than 0/],
    ['SEARCH_BATCH_MAX', '0', /SEARCH_BATCH_MAX must not be less than 1/],
  ])('rejects %s=%s naming the variable', (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigValidationError);
    expect(() => loadConfig({ [name]: value })).toThrow(message);
  });

  it('lists every invalid variable at once', () => {
    try {
      loadConfig({ PORT: 'x', UPLOAD_MAX_PIXELS: '-1' });
      throw new Error('expected a ConfigValidationError');
    } catch (error) {
      expect((error as ConfigValidationError).problems.map((p) => p.split(':')[0])).toEqual([
        'PORT',
        'UPLOAD_MAX_PIXELS',
      ]);
    }
  });
});
