import { promises as fs } from 'fs';
import * as path from 'path';
import { captureStdout, runCli, saveTinyModel, words } from '../../test/support/cli';
import { temporaryFolder } from '../../test/support/folders';
import { initBackend } from '../ml/backend';
import { readManifest, type ModelManifest } from '../ml/model-store';
import type { RobustnessReport } from '../ml/robustness/report';
import { percentToFraction, reportFromJson, scaleRobustnessBlock } from '../ml/robustness/units';

/** Numbers to 10 significant digits: figures that went to fractions and back compare equal. */
const significant = (value: unknown): unknown =>
  JSON.parse(
    JSON.stringify(value, (_key, v: unknown) =>
      typeof v === 'number' ? Number(v.toPrecision(10)) : v,
    ),
  );

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
    // --json gives fractions; the manifest's block keeps the suite's scale (percent).
    const json = JSON.parse(
      await rir('attack', '--model', model, ...args, '--json', '--write-manifest'),
    ) as RobustnessReport & { unit: string };
    expect(json.unit).toBe('fraction');
    const report = json;
    const manifest = await readManifest(model);
    // The weights and everything else in the manifest stay; the block comes from the report.
    expect({ ...manifest, robustness: undefined }).toEqual({ ...saved, robustness: undefined });
    const block = manifest.robustness!;
    // Compared in fractions: the figures of the JSON are the block's, divided by 100.
    const inFractions = scaleRobustnessBlock(block, percentToFraction);
    expect(block.natural.recallAt1.value).toBeGreaterThan(1);
    expect(inFractions).toMatchObject({
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
    expect(inFractions.adversarial!.worstRecallAt1!.value).toBe(
      Math.min(report.figures['ES:R']!, report.figures.LTM!, report.figures.GTM!),
    );
    expect(block.command).toBe(
      `rir attack --model ${model} --dataset mnist --attacks all --eps 77/255 --alpha 3/255 --steps 1 ` +
        '--restarts 1 --sample 5 --gallery 40 --seed 0 --no-strength-check --write-manifest',
    );

    const reportFile = path.join(tmp.path, 'report.json');
    await fs.writeFile(reportFile, JSON.stringify(json));
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
    // Back from fractions: the same figures (to float precision).
    expect(significant({ ...annotated, command: '' })).toEqual(
      significant({ ...block, command: '' }),
    );
    // A report saved before rates became fractions (percent, unmarked) is read as it was written.
    const oldFile = path.join(tmp.path, 'old-report.json');
    const { unit: _unit, ...percent } = json;
    await fs.writeFile(oldFile, JSON.stringify(reportFromJson(json)));
    expect(Object.keys(percent).sort()).toEqual(
      Object.keys(JSON.parse(await fs.readFile(oldFile, 'utf8'))).sort(),
    );
    const older = path.join(tmp.path, 'older');
    await fs.cp(copy, older, { recursive: true });
    await rir('model', 'annotate', '--model', older, '--report', oldFile);
    const fromOld = (await readManifest(older)).robustness!;
    expect(significant({ ...fromOld, command: '' })).toEqual(
      significant({ ...block, command: '' }),
    );
    expect(annotated.command).toBe(
      `rir attack --model ${copy} --dataset mnist --attacks all --eps 77/255 --alpha 3/255 --steps 1 ` +
        '--restarts 1 --sample 5 --gallery 40 --seed 0 --no-strength-check --json',
    );
  }, 300_000); // a worker starts its own backend and loads MNIST: slow on a loaded machine
});
