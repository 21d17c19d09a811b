/**
 * Persistence of an HnswIndex: the hnswlib file plus a JSON sidecar (the header) that names the model,
 * dimension, live count, parameters, label table and the SHA-256 of the hnswlib file. Both are written
 * to temp files, fsynced, then renamed; the sidecar is renamed last, so a crash between the two renames
 * leaves a checksum mismatch that the next load reports as corrupt (and the caller rebuilds).
 */
import { createHash } from 'crypto';
import { createReadStream, promises as fs, constants as fsConstants } from 'fs';
import * as path from 'path';
import { HierarchicalNSW } from 'hnswlib-node';
import { HnswIndex, HnswParams } from './hnsw-index';

export const INDEX_FORMAT_VERSION = 1;

export interface IndexHeader {
  format: number;
  modelId: string;
  dim: number;
  space: 'cosine';
  count: number;
  params: HnswParams;
  hnswBytes: number;
  sha256: string;
  savedAt: string;
  nextLabel: number;
  labels: number[];
  ids: string[];
}

export type IndexLoadFailure = 'missing' | 'corrupt' | 'stale';

/** Why a persisted index cannot be used; the caller rebuilds from PostgreSQL on any of them. */
export class IndexLoadError extends Error {
  constructor(
    readonly reason: IndexLoadFailure,
    message: string,
  ) {
    super(`index ${reason}: ${message}`);
    this.name = 'IndexLoadError';
  }
}

export interface IndexExpectation {
  modelId: string;
  dim: number;
  /** The number of embeddings the database holds for this model, when known. */
  count?: number;
}

/** Model ids become file names: keep them readable but never able to escape the directory. */
export function indexFileStem(modelId: string): string {
  const safe = modelId.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 80);
  const digest = createHash('sha256').update(modelId).digest('hex').slice(0, 12);
  return `${safe}-${digest}`;
}

export function indexPaths(dir: string, modelId: string): { hnsw: string; header: string } {
  const stem = indexFileStem(modelId);
  return { hnsw: path.join(dir, `${stem}.hnsw`), header: path.join(dir, `${stem}.header.json`) };
}

/**
 * Hashed as it streams in 1 MiB reads: hashing a 70,000-vector file (46 MB) in one call held the main
 * thread for ~40 ms on every save, which surfaced as search p99 while images were being ingested.
 */
async function sha256File(file: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** Items of the label table serialised per write; the table of a large index is megabytes of JSON. */
const HEADER_CHUNK = 4096;

/**
 * Writes the header as the JSON.stringify of it would read, but the label table in chunks, one
 * awaited write each: stringifying 70,000 UUIDs at once held the main thread for ~20 ms per save.
 */
export async function writeHeaderFile(file: string, header: IndexHeader): Promise<void> {
  const { labels, ids, ...fields } = header;
  const handle = await fs.open(file, 'w');
  try {
    const writeArray = async (name: string, values: readonly (number | string)[]) => {
      await handle.write(`,${JSON.stringify(name)}:[`);
      for (let start = 0; start < values.length; start += HEADER_CHUNK) {
        const part = JSON.stringify(values.slice(start, start + HEADER_CHUNK)).slice(1, -1);
        await handle.write(start === 0 ? part : `,${part}`);
      }
      await handle.write(']');
    };
    await handle.write(JSON.stringify(fields).slice(0, -1));
    await writeArray('labels', labels);
    await writeArray('ids', ids);
    await handle.write('}');
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function fsyncPath(target: string, flags = fsConstants.O_RDONLY): Promise<void> {
  const handle = await fs.open(target, flags);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes the index durably. The caller must not mutate the index until the returned promise settles:
 * hnswlib writes from a thread-pool thread without locking the graph.
 */
export async function saveIndex(index: HnswIndex, dir: string): Promise<IndexHeader> {
  await fs.mkdir(dir, { recursive: true });
  const paths = indexPaths(dir, index.modelId);
  const table = index.labelTable();
  const suffix = `.tmp-${process.pid}-${Date.now()}`;
  const hnswTmp = paths.hnsw + suffix;
  const headerTmp = paths.header + suffix;
  try {
    await index.native.writeIndex(hnswTmp);
    await fsyncPath(hnswTmp);
    const { sha256, bytes } = await sha256File(hnswTmp);
    const header: IndexHeader = {
      format: INDEX_FORMAT_VERSION,
      modelId: index.modelId,
      dim: index.dim,
      space: 'cosine',
      count: table.ids.length,
      params: index.params,
      hnswBytes: bytes,
      sha256,
      savedAt: new Date().toISOString(),
      ...table,
    };
    await writeHeaderFile(headerTmp, header);
    await fs.rename(hnswTmp, paths.hnsw);
    await fs.rename(headerTmp, paths.header);
    await fsyncPath(dir);
    return header;
  } catch (error) {
    await Promise.all([fs.rm(hnswTmp, { force: true }), fs.rm(headerTmp, { force: true })]);
    throw error;
  }
}

async function readHeader(file: string): Promise<IndexHeader> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new IndexLoadError('missing', `no header at ${file}`);
    throw error;
  }
  let header: IndexHeader;
  try {
    header = JSON.parse(text) as IndexHeader;
  } catch {
    throw new IndexLoadError('corrupt', `header ${file} is not valid JSON`);
  }
  const wellFormed =
    header &&
    header.format === INDEX_FORMAT_VERSION &&
    typeof header.modelId === 'string' &&
    Number.isInteger(header.dim) &&
    Array.isArray(header.labels) &&
    Array.isArray(header.ids) &&
    header.labels.length === header.count &&
    header.ids.length === header.count;
  if (!wellFormed)
    throw new IndexLoadError('corrupt', `header ${file} is malformed or of another format version`);
  return header;
}

/** Reads the persisted index of a model, or throws IndexLoadError saying why it cannot be used. */
export async function loadIndex(dir: string, expected: IndexExpectation): Promise<HnswIndex> {
  const paths = indexPaths(dir, expected.modelId);
  const header = await readHeader(paths.header);
  if (header.modelId !== expected.modelId) {
    throw new IndexLoadError(
      'stale',
      `header names model ${header.modelId}, expected ${expected.modelId}`,
    );
  }
  if (header.dim !== expected.dim) {
    throw new IndexLoadError(
      'stale',
      `index has dimension ${header.dim}, model ${expected.modelId} has ${expected.dim}`,
    );
  }
  if (expected.count !== undefined && header.count !== expected.count) {
    throw new IndexLoadError(
      'stale',
      `index holds ${header.count} vectors, the database ${expected.count}`,
    );
  }
  let file: { sha256: string; bytes: number };
  try {
    file = await sha256File(paths.hnsw);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new IndexLoadError('missing', `no index file at ${paths.hnsw}`);
    throw error;
  }
  // Checked before hnswlib reads the file: a damaged graph can crash the native reader instead of throwing.
  if (file.bytes !== header.hnswBytes || file.sha256 !== header.sha256) {
    throw new IndexLoadError('corrupt', `checksum of ${paths.hnsw} does not match its header`);
  }
  const hnsw = new HierarchicalNSW('cosine', header.dim);
  try {
    await hnsw.readIndex(paths.hnsw, true);
  } catch (error) {
    throw new IndexLoadError(
      'corrupt',
      `hnswlib could not read ${paths.hnsw}: ${(error as Error).message}`,
    );
  }
  return HnswIndex.fromParts(header.modelId, header.dim, header.params, hnsw, header);
}

/** Removes the files of a model's index (after a deploy replaces it) and stray temp files. */
export async function removeIndexFiles(dir: string, modelId: string): Promise<void> {
  const paths = indexPaths(dir, modelId);
  const entries = await fs.readdir(dir).catch(() => [] as string[]);
  const stem = indexFileStem(modelId);
  const stray = entries
    .filter((name) => name.startsWith(stem) && name.includes('.tmp-'))
    .map((name) => path.join(dir, name));
  await Promise.all(
    [paths.hnsw, paths.header, ...stray].map((file) => fs.rm(file, { force: true })),
  );
}
