import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backend';
import { createEmbeddingModel, l2Normalize, type EmbeddingModel } from '.';
import { buildSmallCnn, foldedSmallCnnForward } from './small-cnn';

beforeAll(async () => {
  await initBackend(process.env.TFJS_BACKEND ?? 'wasm');
});

describe('createEmbeddingModel', () => {
  it('small-cnn gives L2-normalised, spread-out embeddings and checks the input shape', async () => {
    const model = await createEmbeddingModel({
      backbone: 'small-cnn',
      inputShape: [28, 28, 1],
      embeddingDim: 16,
    });
    const before = tf.memory().numTensors;
    const norms = tf.tidy(() => {
      const e = model.embed(
        tf.randomUniform([6, 28, 28, 1], 0, 1, 'float32', 1) as tf.Tensor4D,
        true,
      );
      expect(e.shape).toEqual([6, 16]);
      // Batch norm before the head (training mode): distinct images must not collapse onto one embedding.
      const spread = tf.mean(tf.sum(tf.square(tf.sub(e, tf.mean(e, 0, true))), 1)).dataSync()[0];
      expect(spread).toBeGreaterThan(0.05);
      return tf.norm(e, 2, 1).dataSync();
    });
    norms.forEach((n) => expect(n).toBeCloseTo(1, 5));
    expect(tf.memory().numTensors).toBe(before);
    expect(() => model.embed(tf.zeros([2, 32, 32, 1]) as tf.Tensor4D)).toThrow(
      'expected images of shape [B, 28, 28, 1], got [2, 32, 32, 1]',
    );
    expect(model.trainableVariables.length).toBeGreaterThan(4);
    model.dispose();
  });

  it('mobilenetv2 loads the packaged pretrained weights at a small input size', async () => {
    const features = await createEmbeddingModel({
      backbone: 'mobilenetv2',
      inputShape: [32, 32, 3],
      head: false,
    });
    expect(features.embeddingDim).toBe(1280);
    const model = await createEmbeddingModel({
      backbone: 'mobilenetv2',
      inputShape: [32, 32, 3],
      embeddingDim: 8,
    });
    const [f, e] = tf.tidy(() => {
      const x = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
      return [features.embed(x).arraySync(), model.embed(x).arraySync()];
    });
    expect(f[0]).toHaveLength(1280);
    expect(e[0]).toHaveLength(8);
    // The first conv kernel is the packaged one, not a fresh initialisation.
    const conv1 = model.model.getLayer('Conv1').getWeights()[0];
    expect(conv1.shape).toEqual([3, 3, 3, 32]);
    expect(conv1.min().dataSync()[0]).toBeCloseTo(-0.8733, 3);
    features.dispose();
    model.dispose();
    await expect(
      createEmbeddingModel({ backbone: 'mobilenetv2', inputShape: [28, 28, 1] }),
    ).rejects.toThrow(/RGB/);
  });
});

describe('mobilenetv2-mid', () => {
  it('cuts the pretrained network at block 13 and keeps the layout: flattened 576 x H/16 x W/16 features', async () => {
    const features = await createEmbeddingModel({
      backbone: 'mobilenetv2-mid',
      inputShape: [64, 64, 3],
      head: false,
    });
    expect(features.embeddingDim).toBe(576 * 4 * 4);
    expect(features.model.layers.some((l) => l.name === 'out_relu')).toBe(false);
    const model = await createEmbeddingModel({
      backbone: 'mobilenetv2-mid',
      inputShape: [64, 64, 3],
      embeddingDim: 8,
    });
    const full = await createEmbeddingModel({ backbone: 'mobilenetv2', inputShape: [64, 64, 3] });
    const before = tf.memory().numTensors;
    const { f, e } = tf.tidy(() => {
      const x = tf.randomUniform([2, 64, 64, 3], 0, 1, 'float32', 4) as tf.Tensor4D;
      return { f: features.embed(x).arraySync(), e: model.embed(x).arraySync() };
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(f[0]).toHaveLength(9216);
    expect(e[0]).toHaveLength(8);
    // Same pretrained weights as the full network up to the cut.
    const a = model.model.getLayer('block_13_expand').getWeights()[0];
    const b = full.model.getLayer('block_13_expand').getWeights()[0];
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    features.dispose();
    model.dispose();
    full.dispose();
  });
});

describe('mobilenetv2-early', () => {
  it('cuts at block 6 (192 x H/8 x W/8 features) and embeds to the asked dimension', async () => {
    const features = await createEmbeddingModel({
      backbone: 'mobilenetv2-early',
      inputShape: [64, 64, 3],
      head: false,
    });
    expect(features.embeddingDim).toBe(192 * 8 * 8);
    expect(features.model.layers.some((l) => l.name === 'block_7_expand')).toBe(false);
    const model = await createEmbeddingModel({
      backbone: 'mobilenetv2-early',
      inputShape: [64, 64, 3],
      embeddingDim: 8,
    });
    const e = tf.tidy(() =>
      model.embed(tf.randomUniform([2, 64, 64, 3], 0, 1, 'float32', 5) as tf.Tensor4D).arraySync(),
    );
    expect(e[0]).toHaveLength(8);
    features.dispose();
    model.dispose();
  });
});

describe('mobilenetv2 backbone training (trainBackbone)', () => {
  const headVariables = ['head_bn', 'embedding'];
  const isHead = (name: string) => headVariables.some((layer) => name.startsWith(`${layer}/`));

  it('trains only the head by default: the pretrained layers load frozen', async () => {
    const model = await createEmbeddingModel({
      backbone: 'mobilenetv2-early',
      inputShape: [32, 32, 3],
      embeddingDim: 8,
    });
    const names = model.model.trainableWeights.map((w) => w.originalName);
    expect(names.length).toBeGreaterThan(0);
    expect(names.every(isHead)).toBe(true);
    model.dispose();
  });

  it('with trainBackbone the backbone gets gradients too, and the choice survives a save and load', async () => {
    const model = await createEmbeddingModel({
      backbone: 'mobilenetv2-early',
      inputShape: [32, 32, 3],
      embeddingDim: 8,
      trainBackbone: true,
    });
    const variables = model.trainableVariables;
    const backbone = variables.filter((v) => !isHead(v.name));
    expect(backbone.length).toBeGreaterThan(20);
    const images = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    const { grads } = tf.variableGrads(
      () => tf.sum(tf.square(model.embed(images, true))) as tf.Scalar,
      variables,
    );
    const conv1 = Object.entries(grads).find(([name]) => name.startsWith('Conv1/'));
    expect(conv1).toBeDefined();
    expect(tf.max(tf.abs(conv1![1])).dataSync()[0]).toBeGreaterThan(0);
    Object.values(grads).forEach((g) => g.dispose());

    let saved: tf.io.ModelArtifacts | undefined;
    await model.model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        saved = artifacts;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    const reloaded = await tf.loadLayersModel(tf.io.fromMemory(saved!));
    expect(reloaded.trainableWeights.length).toBe(model.model.trainableWeights.length);
    reloaded.dispose();
    images.dispose();
    model.dispose();
  });

  it('is refused for backbones that train every layer already', async () => {
    await expect(
      createEmbeddingModel({ backbone: 'small-cnn', inputShape: [28, 28, 1], trainBackbone: true }),
    ).rejects.toThrow(
      'trainBackbone applies to the pretrained mobilenetv2 backbones; small-cnn trains every layer already',
    );
  });
});

describe('initial weights', () => {
  const weightsOf = (seed: number): Float32Array[] => {
    const model = buildSmallCnn([28, 28, 1], 8, seed);
    const values = model.getWeights().map((w) => w.dataSync() as Float32Array);
    model.dispose();
    return values;
  };

  it.each([0, 3])('are the same for two models built with seed %i', (seed) => {
    const first = weightsOf(seed);
    const second = weightsOf(seed);
    expect(second.length).toBe(first.length);
    first.forEach((values, i) => expect(Array.from(second[i])).toEqual(Array.from(values)));
  });

  it('differ between seeds', () => {
    const conv1 = (seed: number): number[] => Array.from(weightsOf(seed)[0]);
    expect(conv1(0)).not.toEqual(conv1(1));
  });
});

describe('small CNN inference with the batch norms folded (foldedSmallCnnForward)', () => {
  /** A small CNN whose batch norms hold non-trivial statistics, scales and shifts (as after training). */
  async function trainedLookingSmallCnn() {
    const model = await createEmbeddingModel({
      backbone: 'small-cnn',
      inputShape: [16, 16, 1],
      embeddingDim: 8,
      seed: 3,
    });
    let seed = 10;
    for (const layer of model.model.layers.filter((l) => l.getClassName() === 'BatchNormalization')) {
      // getWeights hands out the layer's own variables: read their size, never dispose them.
      const n = layer.getWeights()[0].shape[0];
      const draw = (low: number, high: number) =>
        tf.randomUniform([n], low, high, 'float32', seed++);
      const values = [draw(0.5, 1.5), draw(-0.3, 0.3), draw(-0.2, 0.2), draw(0.3, 2)];
      layer.setWeights(values);
      tf.dispose(values);
    }
    return model;
  }

  /** The layers' own inference pass (the reference the folded pass must reproduce). */
  const layersEmbed = (model: EmbeddingModel, x: tf.Tensor4D) =>
    l2Normalize(model.model.apply(x, { training: false }) as tf.Tensor2D);

  it('gives the embeddings and input gradients of the layers, without a batch-norm kernel', async () => {
    const model = await trainedLookingSmallCnn();
    const x = tf.randomUniform([5, 16, 16, 1], 0, 1, 'float32', 4) as tf.Tensor4D;
    const direction = tf.randomNormal([5, 8], 0, 1, 'float32', 5);
    const before = tf.memory().numTensors;
    const [folded, reference] = tf.tidy(() => [
      model.embed(x, false).dataSync(),
      layersEmbed(model, x).dataSync(),
    ]);
    const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) =>
      Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i])));
    expect(maxDiff(folded, reference)).toBeLessThan(1e-5);
    // Attacks differentiate the inference pass w.r.t. the images.
    const gradientOf = (embed: (x: tf.Tensor4D) => tf.Tensor2D) =>
      tf.tidy(() =>
        tf.grad((input: tf.Tensor) => tf.sum(tf.mul(embed(input as tf.Tensor4D), direction)))(x).dataSync(),
      );
    const foldedGradient = gradientOf((input) => model.embed(input, false));
    const referenceGradient = gradientOf((input) => layersEmbed(model, input));
    const scale = Math.max(...Array.from(referenceGradient, Math.abs));
    expect(scale).toBeGreaterThan(0);
    expect(maxDiff(foldedGradient, referenceGradient) / scale).toBeLessThan(1e-4);
    expect(tf.memory().numTensors).toBe(before);
    const profile = await tf.profile(() => tf.dispose(model.embed(x, false)));
    expect(profile.kernelNames).not.toContain('FusedBatchNorm');
    expect(profile.kernelNames).toContain('FusedConv2D');
    // Training mode still runs the layers (batch statistics, moving averages).
    const training = await tf.profile(() => tf.dispose(model.embed(x, true)));
    expect(training.kernelNames).toContain('FusedBatchNorm');
    tf.dispose([x, direction]);
    model.dispose();
  });

  it('is not used for a model laid out otherwise: the layers run', async () => {
    const input = tf.input({ shape: [16, 16, 1] });
    const conv = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'conv1' });
    const output = tf.layers
      .dense({ units: 8, name: 'embedding' })
      .apply(tf.layers.flatten().apply(conv.apply(input))) as tf.SymbolicTensor;
    const other = tf.model({ inputs: input, outputs: output });
    expect(foldedSmallCnnForward(other)).toBeNull();
    const standard = buildSmallCnn([16, 16, 1], 8, 1);
    expect(foldedSmallCnnForward(standard)).not.toBeNull();
    other.dispose();
    standard.dispose();
  });
});
