import { promises as fs } from 'fs';
import * as path from 'path';
import { captureStdout, runCli, saveTinyModel, words } from '../../test/support/cli';
import { temporaryFolder } from '../../test/support/folders';
import { initBackend } from '../ml/backend';
import { readManifest, type ModelManifest } from '../ml/model-store';
import type { RobustnessReport } from '../ml/robustness/report';

const tmp = temporaryFolder('rir-annotate-');
let saved: ModelManifest;

beforeAll(async () => {
  await initBackend(process.env.TFJS_BACKEND);
  saved = await saveTinyModel(path.join(tmp.path, 'mnist'));
  // The same version, kept without a block, for `rir model annotate`.
  await fs.cp(path.join(tmp.path, 'mnist'), path.join(tmp.path, 'copy'), { recursive: true });
});

/** Runs the CLI in-process; returns what it printed on stdout. */
const rir = (...args: string[]) => captureStdout(() => runCli(...args));

describe('robustness figures in the manifest', () => {
  it('rir attack --write-manifest writes the block; rir model annotate writes the same from the saved report', async () => {
    const model = path.join(tmp.path, 'mnist');
    const args = words(
      '--dataset mnist --attacks all --eps 77/255 --alpha 3/255 --steps 1 --sample 5 --gallery 40 --no-strength-check',
    );
    const report = JSON.parse(
      await rir('attack', '--model', model, ...args, '--json', '--write-manifest'),
    ) as RobustnessReport;
    const manifest = await readManifest(model);
    // The weights and everything else in the manifest stay; the block comes from the report.
    expect({ ...manifest, robustness: undefined }).toEqual({ ...saved, robustness: undefined });
    const block = manifest.robustness!;
    expect(block).toMatchObject({
      budget: 'quick suite',
      data: 'mnist',
      date: report.createdAt,
      weightsSha256: saved.weightsSha256,
      chance: { recallAt1: report.chance.recallAt1 },
      attack: { eps: 77 / 255, alpha: 3 / 255, steps: 1, sampleSize: 5, gallerySize: 40 },
      natural: { recallAt1: { value: report.estimates.naturalRecallAt1.value, n: 5 } },
      adversarial: {
        esR: { value: report.figures['ES:R'], n: 5, method: 'wilson' },
        ltm: { value: report.figures.LTM, n: 5 },
        gtm: { value: report.figures.GTM, n: 5 },
        ers: { value: report.estimates.ers!.value, n: 5, method: 'bootstrap' },
      },
    });
    expect(block.adversarial!.worstRecallAt1!.value).toBe(
      Math.min(report.figures['ES:R']!, report.figures.LTM!, report.figures.GTM!),
    );
    expect(block.command).toBe(
      `rir attack --model ${model} --dataset mnist --attacks all --eps 77/255 --alpha 3/255 --steps 1 ` +
        '--restarts 1 --sample 5 --gallery 40 --seed 0 --no-strength-check --write-manifest',
    );

    const reportFile = path.join(tmp.path, 'report.json');
    await fs.writeFile(reportFile, JSON.stringify(report));
    // The report names the model it measured: another version is refused.
    const other = path.join(tmp.path, 'other');
    const otherManifest = await saveTinyModel(other, { seed: 2 });
    await expect(
      rir('model', 'annotate', '--model', other, '--report', reportFile),
    ).rejects.toThrow(
      `the report is of model '${report.model}', but ${other} holds model ${otherManifest.id}`,
    );

    const copy = path.join(tmp.path, 'copy');
    expect(await rir('model', 'annotate', '--model', copy, '--report', reportFile)).toBe(
      `wrote the robustness figures (quick suite) of ${reportFile} into ${path.join(copy, 'manifest.json')}\n`,
    );
    const annotated = (await readManifest(copy)).robustness!;
    expect({ ...annotated, command: '' }).toEqual({ ...block, command: '' });
    expect(annotated.command).toBe(
      `rir attack --model ${copy} --dataset mnist --attacks all --eps 77/255 --alpha 3/255 --steps 1 ` +
        '--restarts 1 --sample 5 --gallery 40 --seed 0 --no-strength-check --json',
    );
  }, 300_000); // a worker starts its own backend and loads MNIST: slow on a loaded machine
});
