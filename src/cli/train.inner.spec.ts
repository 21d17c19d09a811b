import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Command } from 'commander';
import { cliProgram } from '../../test/support/cli';
import { initBackend, tf } from '../ml/backend';
import { loadDataset } from '../ml/data';
import { readManifest } from '../ml/model-store';
import { trainEmbeddingModel } from '../ml/training';
import type { DatasetSplit, ProgressEvent } from '../ml/types';
import { toTrainingConfig } from './train.command';

const argv = (...args: string[]) => ['node', 'rir', 'train', '--dataset', 'mnist', ...args];

/** `rir train ...` with its real option parsing and checks; the action runs the given function. */
async function parseTrain(
  args: string[],
  action?: (options: Parameters<typeof toTrainingConfig>[0]) => Promise<void>,
): Promise<void> {
  const program = cliProgram();
  if (action) {
    const train = program.commands.find((c: Command) => c.name() === 'train') as Command;
    train.action(action);
  }
  await program.parseAsync(argv(...args));
}

describe('rir train --inner', () => {
  it.each([
    [['--inner', 'bogus', '--defense', 'panum'], /unknown inner maximisation 'bogus'/],
    [['--inner', 'fast'], /defence none has no inner maximisation/],
    [['--inner', 'free', '--defense', 'est'], /inner free trains panum and naive only .*not est/],
    [['--inner', 'free', '--defense', 'hm'], /not hm: it crafts up to a destination hardness/],
    [
      ['--inner', 'fast', '--defense', 'panum', '--free-replays', '2'],
      /free replays apply to the free inner maximisation only/,
    ],
    [['--inner', 'free', '--defense', 'naive', '--free-replays', '0'], /free replays must be/],
    [['--inner', 'free', '--defense', 'naive', '--free-replays', '1.5'], /must be an integer/],
    [['--inner', 'fast', '--defense', 'panum', '--on-overfit', 'panic'], /unknown overfitting/],
    [['--defense', 'panum', '--on-overfit', 'stop'], /applies to inner fast and free only/],
    [
      ['--inner', 'fast', '--defense', 'panum', '--workers', '2'],
      /inner fast trains in one thread/,
    ],
  ])('rejects %j before a worker starts', async (args, message) => {
    await expect(
      parseTrain([...args, '--out', path.join(os.tmpdir(), 'rir-train-spec-unused')]),
    ).rejects.toThrow(message);
  });

  describe('tiny runs', () => {
    let split: DatasetSplit;
    beforeAll(async () => {
      await initBackend(process.env.TFJS_BACKEND ?? 'wasm');
      split = await loadDataset('mnist', {
        seed: 1,
        maxTrain: 100,
        maxValidation: 40,
        maxTest: 40,
      });
    });

    /** Parses the command line, then trains here (rir train does the same in a worker thread). */
    async function run(...args: string[]) {
      const outDir = await fs.mkdtemp(path.join(os.tmpdir(), 'train-inner-'));
      const common = ['--defense', 'panum', '--eps', '0.3', '--epochs', '1', '--batch-size', '20'];
      const tiny = ['--embedding-dim', '8', '--seed', '1', '--out', outDir, '--json'];
      let options: Parameters<typeof toTrainingConfig>[0] | undefined;
      await parseTrain([...common, ...tiny, ...args], async (parsed) => {
        options = parsed;
      });
      const config = toTrainingConfig(options as Parameters<typeof toTrainingConfig>[0]);
      const events: ProgressEvent[] = [];
      const backward = jest.spyOn(tf.engine(), 'gradients');
      const passesAtStep: number[] = [];
      const before = tf.memory().numTensors;
      try {
        const result = await trainEmbeddingModel(config, {
          split,
          onProgress: (e) => {
            events.push(e);
            if (e.phase === 'train') passesAtStep.push(backward.mock.calls.length);
          },
        });
        return {
          result,
          events,
          passesAtStep,
          leaked: tf.memory().numTensors - before,
          manifest: await readManifest(outDir),
        };
      } finally {
        backward.mockRestore();
      }
    }

    it('--inner fast completes, checks for catastrophic overfitting, records it, leaks no tensors', async () => {
      const { result, events, passesAtStep, leaked, manifest } = await run(
        '--inner',
        'fast',
        '--steps-per-epoch',
        '2',
      );
      expect(leaked).toBe(0);
      // The fast step's backward pass and the weights' one.
      expect(passesAtStep).toEqual([2, 4]);
      expect(manifest.defense?.config.inner).toEqual({ method: 'fast', onOverfit: 'fallback' });
      const check = result.history[0].robustCheck;
      // A first check has no earlier robustness to fall from: it only reports.
      expect(check).toMatchObject({ eps: 0.3, pgdSteps: 10, overfit: false });
      expect(check?.queries).toBeGreaterThan(10);
      expect((manifest.metrics?.history as { robustCheck?: unknown }[])[0].robustCheck).toEqual(
        check,
      );
      const report = events.find((e) => e.phase === 'robust-check');
      expect(report?.message).toMatch(/^epoch 1: overfitting check: R@1 under 10-step PGD /);
      expect((manifest.training as { inner?: string }).inner).toBe('fast');
    });

    it('--inner free replays each batch with one backward pass per replay, keeps the epoch length, leaks no tensors', async () => {
      const { result, events, passesAtStep, leaked, manifest } = await run(
        '--inner',
        'free',
        '--free-replays',
        '2',
        '--steps-per-epoch',
        '4',
      );
      expect(leaked).toBe(0);
      // 4 optimizer steps (2 batches x 2 replays), one backward pass each.
      expect(events.filter((e) => e.phase === 'train').map((e) => e.step)).toEqual([1, 2, 3, 4]);
      expect(passesAtStep).toEqual([1, 2, 3, 4]);
      expect(manifest.defense?.config.inner).toEqual({
        method: 'free',
        replays: 2,
        onOverfit: 'fallback',
      });
      expect(result.history[0].robustCheck?.queries).toBeGreaterThan(10);
      expect(Number.isFinite(result.history[0].loss)).toBe(true);
    });
  });
});
