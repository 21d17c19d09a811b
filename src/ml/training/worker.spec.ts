import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { ProgressEvent } from '../types';
import { runTrainingInWorker } from '.';

// The worker thread starts its own tfjs backend (wasm unless TFJS_BACKEND says otherwise).
const backend = process.env.TFJS_BACKEND ?? 'wasm';
const tiny = {
  dataset: 'mnist',
  embeddingDim: 8,
  batchSize: 20,
  stepsPerEpoch: 2,
  epochs: 1,
  maxTrain: 60,
  maxValidation: 10,
  maxTest: 30,
};

describe('runTrainingInWorker', () => {
  it('trains in a worker thread and streams progress while the caller stays responsive', async () => {
    const outDir = await fs.mkdtemp(path.join(os.tmpdir(), 'train-worker-'));
    const events: ProgressEvent[] = [];
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    try {
      const result = await runTrainingInWorker(
        { ...tiny, outDir },
        (e) => events.push(e),
        undefined,
        backend,
      );
      expect(result.metrics.count).toBe(30);
      expect(result.manifest.backbone).toBe('small-cnn');
    } finally {
      clearInterval(timer);
    }
    expect(events.filter((e) => e.phase === 'train').map((e) => e.step)).toEqual([1, 2]);
    expect(ticks).toBeGreaterThan(0);
  });

  it('cancels through an AbortSignal and reports worker errors', async () => {
    const controller = new AbortController();
    const run = runTrainingInWorker(
      {
        ...tiny,
        stepsPerEpoch: 100,
        outDir: await fs.mkdtemp(path.join(os.tmpdir(), 'train-worker-')),
      },
      (e) => e.phase === 'train' && controller.abort(),
      controller.signal,
      backend,
    );
    await expect(run).rejects.toThrow('training cancelled');
    await expect(
      runTrainingInWorker(
        { ...tiny, dataset: 'folder:/nonexistent', outDir: os.tmpdir() },
        undefined,
        undefined,
        backend,
      ),
    ).rejects.toThrow(/image folder not found/);
  });
});
