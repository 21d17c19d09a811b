import { readFileSync } from 'fs';
import * as path from 'path';
import { indexPaths, type IndexHeader } from '../../src/vector-index/index-store';
import { DeployService } from '../../src/modules/models/deploy.service';
import { VectorIndexService } from '../../src/modules/search/vector-index.service';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { deployAndWait, tinyPng, writeTinyModel } from './fixtures';

/**
 * hnswlib's own file header (hnswalg.h, saveIndex): six size_t fields, maxlevel_ (int32),
 * enterpoint_node_ (uint32), maxM_, maxM0_, M_ (size_t), mult_ (double), ef_construction_ (size_t).
 */
function hnswlibGraphParams(file: string): { m: number; efConstruction: number } {
  const bytes = readFileSync(file);
  return {
    m: Number(bytes.readBigUInt64LE(72)),
    efConstruction: Number(bytes.readBigUInt64LE(88)),
  };
}

describe('deploy builds its index as configured (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { HNSW_M: '12', HNSW_EF_CONSTRUCTION: '40' } });
    await writeTinyModel(t.config.dataDir, 'tiny-m12', 3);
  });
  afterAll(() => t?.close());

  it('a deploy with HNSW_M=12 and HNSW_EF_CONSTRUCTION=40 builds a graph of M 12, efConstruction 40', async () => {
    let upload = t.http.post('/v1/gallery/images').set('x-api-key', t.adminKey);
    for (let i = 0; i < 6; i++) upload = upload.attach('files', await tinyPng(500 + i), 'x.png');
    expect((await upload).status).toBe(201);

    await deployAndWait(t, 'tiny-m12');
    await t.app.get(DeployService).idle(); // the deploy saves its index after the swap

    const serving = t.app.get(VectorIndexService).current();
    expect(serving?.modelId).toBe('tiny-m12');
    expect(serving?.index.size).toBe(6);
    const files = indexPaths(path.join(t.config.dataDir, 'index'), 'tiny-m12');
    // What hnswlib itself wrote, not only what the wrapper was told.
    expect(hnswlibGraphParams(files.hnsw)).toEqual({ m: 12, efConstruction: 40 });
    const header = JSON.parse(readFileSync(files.header, 'utf8')) as IndexHeader;
    expect(header.params).toMatchObject({ m: 12, efConstruction: 40 });
  });
});
