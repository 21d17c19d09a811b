import * as os from 'os';
import * as path from 'path';
import { runCli } from '../../test/support/cli';
import { toTrainingConfig } from './train.command';

// Outside the checkout: a case whose options are accepted after all would train into --out.
const unusedOut = path.join(os.tmpdir(), 'rir-train-spec-unused');

const train = (...args: string[]) =>
  runCli('train', '--dataset', 'mnist', '--out', unusedOut, ...args);

describe('rir train option checks', () => {
  it.each([
    [['--defense', 'shield'], /--defense must be one of none, panum/],
    [['--loss', 'hinge'], /--loss must be one of triplet/],
    [['--backbone', 'resnet'], /--backbone must be one of small-cnn/],
    [['--defense', 'panum', '--eps', '2'], /training eps must be in \[0, 1\] \(got 2\)/],
    [['--defense', 'panum', '--pgd-steps', '0'], /training PGD steps must be a positive integer/],
    [['--epochs', '0'], /epochs must be a positive integer \(got 0\)/],
    [['--steps-per-epoch', '-3'], /stepsPerEpoch must be a positive integer/],
    [['--lr', '0'], /learning rate must be > 0/],
    [['--aug-rotation', '-5'], /augmentation rotation must be in \[0, 180\]/],
    [['--aug-scale', '2'], /augmentation scale must be in \[0, 0.9\]/],
    [['--loss-options', 'margin=abc'], /--loss-options expects key=number pairs/],
    [['--workers', '0'], /workers must be a positive integer \(got 0\)/],
    [['--workers', '2', '--shards', '1.5'], /--shards must be an integer/],
    [
      ['--loss', 'contrastive', '--loss-options', 'margin=0.1'],
      /contrastive has no option 'margin'/,
    ],
    [['--instance-weight', '1'], /the instance term needs augmentation/],
    [['--instance-weight', '0', '--augment'], /instance weight must be a number > 0/],
    [
      ['--instance-weight', '1', '--augment', '--instances', '1'],
      /instances must be an integer in \[2, batch size 128\]/,
    ],
    [['--instances', '8'], /--instances needs --instance-weight/],
    [
      ['--instance-weight', '1', '--augment', '--defense', 'naive'],
      /the instance term trains with --defense none, panum, est only/,
    ],
    [
      ['--instance-weight', '1', '--augment', '--workers', '2'],
      /the instance term trains in one thread/,
    ],
    [['--checkpoint-every-steps', '0'], /checkpointEverySteps must be a positive integer/],
    [['--checkpoint-every-steps', '2.5'], /--checkpoint-every-steps must be an integer/],
    [['--checkpoint-every-minutes', '0'], /checkpointEveryMinutes must be a number > 0/],
    [['--checkpoint-every-minutes', 'soon'], /--checkpoint-every-minutes must be a number/],
  ])('rejects %j before a worker starts', async (args, message) => {
    await expect(train(...args)).rejects.toThrow(message);
  });

  /** `rir train`'s options with their defaults (commander fills them in). */
  const defaults = {
    dataset: 'mnist',
    backbone: 'small-cnn',
    loss: 'triplet',
    defense: 'none',
    epochs: 1,
    batchSize: 128,
    embeddingDim: 128,
    lr: 0.001,
    schedule: 'cosine',
    seed: 1,
    out: 'somewhere',
    patience: 0,
  };

  it('holds out whole training classes for validation with --validation-classes', async () => {
    expect(toTrainingConfig({ ...defaults, validationClasses: 2 }).validationClasses).toBe(2);
    expect(toTrainingConfig(defaults).validationClasses).toBeUndefined();
    await expect(train('--validation-classes', '1')).rejects.toThrow(
      'validationClasses must be an integer >= 2 (got 1)',
    );
  });

  it('limits the validation images with --max-validation (fast runs)', () => {
    expect(toTrainingConfig({ ...defaults, maxValidation: 12 }).maxValidation).toBe(12);
    expect(toTrainingConfig(defaults).maxValidation).toBeUndefined();
  });

  it('maps the options onto a training config', () => {
    const config = toTrainingConfig({
      ...defaults,
      loss: 'multi-similarity',
      epochs: 2,
      batchSize: 120,
      embeddingDim: 64,
      lr: 0.002,
      seed: 3,
    });
    expect(config).toMatchObject({
      loss: 'multi-similarity',
      epochs: 2,
      batchSize: 120,
      embeddingDim: 64,
      learningRate: 0.002,
      outDir: 'somewhere',
    });
    expect(config.augmentation).toBeUndefined();
    expect(config.workers).toBeUndefined();
  });

  it('passes --workers and --shards to the data-parallel trainer', () => {
    const config = toTrainingConfig({ ...defaults, workers: 2, shards: 4 });
    expect(config).toMatchObject({ workers: 2, shards: 4 });
  });

  it('passes the checkpoint interval flags to the trainer', () => {
    const config = toTrainingConfig({
      ...defaults,
      resume: true,
      checkpointEverySteps: 50,
      checkpointEveryMinutes: 0.5,
    });
    expect(config).toMatchObject({
      resume: true,
      checkpointEverySteps: 50,
      checkpointEveryMinutes: 0.5,
    });
  });

  const augmentedOptions = {
    ...defaults,
    loss: 'multi-similarity',
    batchSize: 120,
    embeddingDim: 64,
    seed: 0,
    augRotation: 12 as number | undefined,
    augElastic: 2,
  };

  it('turns augmentation flags and loss options into the config', () => {
    const config = toTrainingConfig({ ...augmentedOptions, lossOptions: 'beta=20, base=0.6' });
    expect(config.augmentation).toEqual({
      maxShift: 0,
      horizontalFlip: false,
      maxRotation: 12,
      elasticAlpha: 2,
    });
    expect(config.lossOptions).toEqual({ beta: 20, base: 0.6 });
  });

  it('adds the instance term with half the batch as instances by default', () => {
    const base = { ...augmentedOptions, batchSize: 125, augRotation: undefined, augShift: 2 };
    expect(toTrainingConfig({ ...base, instanceWeight: 0.5 }).instanceTerm).toEqual({
      weight: 0.5,
      instances: 62,
    });
    expect(toTrainingConfig({ ...base, instanceWeight: 1, instances: 16 }).instanceTerm).toEqual({
      weight: 1,
      instances: 16,
    });
    expect(toTrainingConfig(base).instanceTerm).toBeUndefined();
  });
});
