import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { DEFAULT_HNSW_PARAMS } from './hnsw-index';
import { IndexHeader, writeHeaderFile } from './index-store';

function header(count: number): IndexHeader {
  const labels = Array.from({ length: count }, (_, i) => i * 3 + 1);
  return {
    format: 1,
    modelId: 'model "quoted" \\ ü',
    dim: 128,
    space: 'cosine',
    count,
    params: DEFAULT_HNSW_PARAMS,
    hnswBytes: 1234,
    sha256: 'ab'.repeat(32),
    savedAt: '2026-11-26T00:00:00.000Z',
    nextLabel: count * 3 + 2,
    labels,
    ids: labels.map((l) => `00000000-0000-4000-8000-${String(l).padStart(12, '0')}`),
  };
}

describe('writeHeaderFile', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'rir-header-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  // Sizes around the 4,096-item write chunk, and an empty table.
  it.each([0, 1, 4095, 4096, 4097, 10_000])(
    'writes exactly JSON.stringify of the header (%i items), in chunks',
    async (count) => {
      const file = path.join(dir, 'h.json');
      const expected = header(count);
      await writeHeaderFile(file, expected);
      const text = readFileSync(file, 'utf8');
      expect(text).toBe(JSON.stringify(expected));
      expect(JSON.parse(text)).toEqual(expected);
    },
  );
});
