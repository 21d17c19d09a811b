import * as tf from '@tensorflow/tfjs';
import { adamGradients, adamVariables, runAdam } from '../../../test/support/adam-steps';
import { createAdam, FusedAdam, adamUpdate } from './adam';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const maxAbsDiff = (a: Float32Array[], b: Float32Array[]) =>
  Math.max(...a.map((values, i) => Math.max(...values.map((v, j) => Math.abs(v - b[i][j])))));

describe('FusedAdam (one flat buffer)', () => {
  it('matches tf.train.adam within 1e-5 over several steps, changing the learning rate midway', async () => {
    const reference = tf.train.adam(0.05);
    const fused = new FusedAdam({ learningRate: 0.05 });
    const stepsWithRate = (optimizer: {
      learningRate: number;
      applyGradients(g: tf.NamedTensorMap): void;
    }) => ({
      applyGradients: (g: tf.NamedTensorMap) => {
        optimizer.applyGradients(g);
        optimizer.learningRate = 0.02; // as the trainer's schedule sets it
      },
    });
    const expected = await runAdam(
      stepsWithRate(
        reference as unknown as {
          learningRate: number;
          applyGradients(g: tf.NamedTensorMap): void;
        },
      ),
      6,
    );
    const actual = await runAdam(stepsWithRate(fused), 6);
    const start = adamVariables();
    const moved = maxAbsDiff(
      await Promise.all(start.map((v) => v.data() as Promise<Float32Array>)),
      expected,
    );
    tf.dispose(start);
    expect(moved).toBeGreaterThan(0.05); // the steps did move the weights
    expect(maxAbsDiff(actual, expected)).toBeLessThan(1e-5);
    expect(fused.iterations).toBe(6);
    expect(fused.accBeta1).toBeCloseTo(0.9 ** 7, 6);
    reference.dispose();
    fused.dispose();
  });

  it("saves tf.train.adam's weight names and restores either optimizer's state into the other", async () => {
    const variables = adamVariables();
    const fused = new FusedAdam({ learningRate: 0.05 });
    for (let step = 0; step < 3; step++) {
      const g = adamGradients(variables, step);
      fused.applyGradients(g);
      tf.dispose(g);
    }
    const saved = await fused.getWeights();
    expect(saved.map((w) => w.name)).toEqual([
      'iter',
      ...variables.map((v) => `${v.name}/m`),
      ...variables.map((v) => `${v.name}/v`),
    ]);
    expect(saved[1].tensor.shape).toEqual(variables[0].shape);

    // Continue with tfjs's Adam from the fused state, and with a fused Adam restored from tfjs's.
    const weightsAfter3 = variables.map((v) => v.clone());
    const tfjs = tf.train.adam(0.05);
    await tfjs.setWeights(saved);
    const g3 = adamGradients(variables, 3);
    tfjs.applyGradients(g3 as Parameters<typeof tfjs.applyGradients>[0]);
    const viaTfjs = await Promise.all(variables.map((v) => v.data() as Promise<Float32Array>));

    variables.forEach((v, i) => v.assign(weightsAfter3[i]));
    const restored = new FusedAdam({ learningRate: 0.05 });
    const fromTfjs = await tfjs.getWeights();
    // tfjs's state is one step further: restore the fused copy instead, the tfjs weights checked by name.
    expect(fromTfjs.map((w) => w.name)).toEqual(saved.map((w) => w.name));
    await restored.setWeights(saved);
    restored.applyGradients(g3);
    const viaFused = await Promise.all(variables.map((v) => v.data() as Promise<Float32Array>));
    expect(maxAbsDiff(viaFused, viaTfjs)).toBeLessThan(1e-6);
    expect(restored.iterations).toBe(4);

    tf.dispose([...saved.map((w) => w.tensor), g3, ...weightsAfter3, ...variables]);
    fromTfjs.filter((w) => !(w.tensor instanceof tf.Variable)).forEach((w) => w.tensor.dispose());
    tfjs.dispose();
    fused.dispose();
    restored.dispose();
  });

  it('holds one tensor of state (both moments) and leaves no others behind', async () => {
    const variables = adamVariables();
    const before = tf.memory().numTensors;
    const fused = new FusedAdam({ learningRate: 0.01 });
    for (let step = 0; step < 4; step++) {
      const g = adamGradients(variables, step);
      fused.applyGradients(g);
      tf.dispose(g);
      expect(tf.memory().numTensors).toBe(before + 1);
    }
    fused.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(variables);
  });

  it('refuses gradients for other variables than the first step, and a restored state of other sizes', async () => {
    const variables = adamVariables();
    const fused = new FusedAdam({ learningRate: 0.01 });
    const g = adamGradients(variables, 0);
    fused.applyGradients(g);
    const { [variables[0].name]: dropped, ...fewer } = g;
    expect(() => fused.applyGradients(fewer)).toThrow(/differ from the first step's variables/);
    const restored = new FusedAdam({ learningRate: 0.01 });
    const saved = await fused.getWeights();
    await restored.setWeights([saved[0], saved[2], saved[saved.length - 1]]);
    const other = adamVariables();
    const g2 = adamGradients(other, 0);
    expect(() => restored.applyGradients(g2)).toThrow(
      /restored moments are for variables of sizes/,
    );
    expect(() => new FusedAdam({ learningRate: 0 })).toThrow('learning rate must be positive');
    expect(() =>
      adamUpdate(tf.zeros([3]), tf.zeros([2]) as tf.Tensor1D, tf.zeros([2]) as tf.Tensor1D, {
        beta1: 0.9,
        oneMinusBeta1: 0.1,
        beta2: 0.999,
        oneMinusBeta2: 0.001,
        correction1: 0.1,
        correction2: 0.001,
        epsilon: 1e-7,
        negativeLearningRate: -0.01,
      }),
    ).toThrow('2 gradients need 4 moments and 2 weights (got 3 and 2)');
    expect(dropped).toBeDefined();
    tf.dispose([
      ...Object.values(g),
      ...Object.values(g2),
      ...saved.map((w) => w.tensor),
      ...variables,
      ...other,
    ]);
    fused.dispose();
    restored.dispose();
  });

  it("is what createAdam gives on webgpu only; elsewhere tfjs's Adam, whose state it reads and writes", async () => {
    const onCpu = createAdam({ learningRate: 0.05 });
    expect(onCpu).not.toBeInstanceOf(FusedAdam);
    const variables = adamVariables();
    for (let step = 0; step < 3; step++) {
      const g = adamGradients(variables, step);
      onCpu.applyGradients(g);
      tf.dispose(g);
    }
    const saved = await onCpu.getWeights();
    // Fresh tensors: disposing them leaves the optimizer's own state intact.
    const fused = new FusedAdam({ learningRate: 0.05 });
    await fused.setWeights(saved);
    tf.dispose(saved.map((w) => w.tensor));
    fused.setPowers(onCpu.accBeta1, onCpu.accBeta2);
    const start = variables.map((v) => v.clone());
    const g3 = adamGradients(variables, 3);
    onCpu.applyGradients(g3);
    const viaCpu = await Promise.all(variables.map((v) => v.data() as Promise<Float32Array>));
    variables.forEach((v, i) => v.assign(start[i]));
    fused.applyGradients(g3);
    const viaFused = await Promise.all(variables.map((v) => v.data() as Promise<Float32Array>));
    expect(maxAbsDiff(viaFused, viaCpu)).toBeLessThan(1e-6);
    expect([fused.iterations, onCpu.iterations]).toEqual([4, 4]);
    onCpu.learningRate = 0.01;
    expect(onCpu.learningRate).toBe(0.01);
    tf.dispose([...Object.values(g3), ...start, ...variables]);
    onCpu.dispose();
    fused.dispose();
  });
});
