import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend, WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';

/**
 * The trainer's Adam. tfjs's AdamOptimizer runs about fourteen kernels per variable each step: on a GPU
 * one dispatch each (182 for the small CNN's 13 variables), a large share of a small model's step; on the
 * CPU backends each kernel is a tight loop and tfjs's Adam is the faster one (bench/optimizer-step.bench.ts:
 * on wasm the flat form below is 3-5x slower, its concatenations and slices copying every weight twice).
 * `createAdam` picks by backend: FusedAdam on webgpu, tfjs's Adam (behind the same interface) elsewhere.
 * Both produce the same update and the same checkpoint weights, so a run resumes on either backend.
 */
export interface AdamState {
  learningRate: number;
  /** beta1^t and beta2^t as float32 running products, as tfjs's Adam holds them (they start at beta). */
  readonly accBeta1: number;
  readonly accBeta2: number;
  readonly iterations: number;
  /** One step from gradients by variable name (as tf.variableGrads returns them); disposes nothing. */
  applyGradients(gradients: tf.NamedTensorMap): void;
  /** tfjs Adam's weights (`iter`, then `<variable>/m`, then `<variable>/v`), all fresh: the caller disposes them. */
  getWeights(): Promise<NamedWeight[]>;
  /** Restores getWeights' output by position; does not take ownership of the tensors. */
  setWeights(weights: NamedWeight[]): Promise<void>;
  /** Sets the running powers exactly (setWeights recomputes them as beta^(t+1)). */
  setPowers(accBeta1: number, accBeta2: number): void;
  dispose(): void;
}

/** The Adam the trainer uses on the active backend: flat and fused on webgpu, tfjs's own elsewhere. */
export function createAdam(options: FusedAdamOptions & { fused?: boolean }): AdamState {
  const fused = options.fused ?? tf.getBackend() === 'webgpu';
  return fused ? new FusedAdam(options) : new PerVariableAdam(options);
}

function checkLearningRate(rate: number): void {
  if (!(rate > 0)) throw new Error(`Adam: learning rate must be positive, got ${rate}`);
}

/** tfjs's AdamOptimizer behind AdamState (its running powers and moments are tfjs variables). */
class PerVariableAdam implements AdamState {
  private readonly adam: tf.AdamOptimizer;

  constructor(options: FusedAdamOptions) {
    checkLearningRate(options.learningRate);
    this.adam = tf.train.adam(options.learningRate, options.beta1, options.beta2, options.epsilon);
  }

  private get powers(): { accBeta1: tf.Variable; accBeta2: tf.Variable } {
    return this.adam as unknown as { accBeta1: tf.Variable; accBeta2: tf.Variable };
  }

  get learningRate(): number {
    return (this.adam as unknown as { learningRate: number }).learningRate;
  }

  set learningRate(rate: number) {
    (this.adam as unknown as { learningRate: number }).learningRate = rate;
  }

  // Synchronous reads: this class serves the CPU backends only.
  get accBeta1(): number {
    return this.powers.accBeta1.dataSync()[0];
  }

  get accBeta2(): number {
    return this.powers.accBeta2.dataSync()[0];
  }

  get iterations(): number {
    return this.adam.iterations;
  }

  applyGradients(gradients: tf.NamedTensorMap): void {
    this.adam.applyGradients(gradients as Parameters<tf.AdamOptimizer['applyGradients']>[0]);
  }

  async getWeights(): Promise<NamedWeight[]> {
    // tfjs returns its own moment variables: clone them, so that every returned tensor is the caller's.
    return (await this.adam.getWeights()).map((w) => ({
      name: w.name,
      tensor: w.tensor instanceof tf.Variable ? w.tensor.clone() : w.tensor,
    }));
  }

  async setWeights(weights: NamedWeight[]): Promise<void> {
    await this.adam.setWeights(weights);
  }

  setPowers(accBeta1: number, accBeta2: number): void {
    tf.tidy(() => {
      this.powers.accBeta1.assign(tf.scalar(accBeta1));
      this.powers.accBeta2.assign(tf.scalar(accBeta2));
    });
  }

  dispose(): void {
    this.adam.dispose();
  }
}

export interface FusedAdamOptions {
  learningRate: number;
  beta1?: number;
  beta2?: number;
  /** Defaults to the backend's epsilon, as tf.train.adam's does (1e-7 for float32). */
  epsilon?: number;
}

/** A named tensor as tfjs optimizers' getWeights/setWeights and the checkpoint files hold them. */
export interface NamedWeight {
  name: string;
  tensor: tf.Tensor;
}

/** Where each variable's values sit in the flat buffers, in the order of the first step's gradients. */
interface Layout {
  names: string[];
  variables: tf.Variable[];
  sizes: number[];
  total: number;
}

const f32 = Math.fround;

/**
 * Adam over one flat parameter buffer, for GPU backends: the gradients and the weights are each
 * concatenated once, both moments live in one [2N] buffer, and the update is two kernels over everything (on webgpu, two hand-written shaders; elsewhere the same
 * arithmetic as tfjs ops), then one slice per variable writes the weights back. Same update as
 * tf.train.adam (Kingma & Ba with bias correction, epsilon added to the corrected root, the running
 * powers of beta kept in float32 as tfjs keeps them), and its checkpoints use tfjs Adam's weight names
 * (`iter`, `<variable>/m`, `<variable>/v`), so either reads the other's.
 */
export class FusedAdam implements AdamState {
  learningRate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  /** beta1^t and beta2^t as float32 running products, as tfjs's Adam holds them (they start at beta). */
  accBeta1: number;
  accBeta2: number;
  private layout: Layout | null = null;
  /** First moments then second moments, [2N]; null before the first step (or setWeights). */
  private moments: tf.Variable | null = null;
  /** Variables (names, shapes) of moments from setWeights before the first step: checked against it. */
  private restored: { names: string[]; shapes: number[][] } | null = null;
  private steps = 0;

  constructor(options: FusedAdamOptions) {
    checkLearningRate(options.learningRate);
    this.learningRate = options.learningRate;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? tf.backend().epsilon();
    this.accBeta1 = f32(this.beta1);
    this.accBeta2 = f32(this.beta2);
  }

  /** Steps applied so far (restored by setWeights). */
  get iterations(): number {
    return this.steps;
  }

  /**
   * One step from gradients by variable name (tfjs's registered variables, as tf.variableGrads returns
   * them); disposes nothing. Every step must bring gradients for the same variables in the same order.
   */
  applyGradients(gradients: tf.NamedTensorMap): void {
    const layout = this.layoutFor(gradients);
    const moments = this.momentsFor(layout);
    const correction1 = f32(1 - this.accBeta1);
    const correction2 = f32(1 - this.accBeta2);
    tf.tidy(() => {
      const flatGradients = concatFlat(layout.names.map((name) => gradients[name]));
      const flatWeights = concatFlat(layout.variables);
      const update = adamUpdate(moments, flatGradients, flatWeights, {
        beta1: f32(this.beta1),
        oneMinusBeta1: f32(1 - this.beta1),
        beta2: f32(this.beta2),
        oneMinusBeta2: f32(1 - this.beta2),
        correction1,
        correction2,
        epsilon: f32(this.epsilon),
        negativeLearningRate: f32(-this.learningRate),
      });
      moments.assign(update.moments);
      const pieces =
        layout.variables.length === 1 ? [update.weights] : tf.split(update.weights, layout.sizes);
      layout.variables.forEach((variable, i) => variable.assign(pieces[i].reshape(variable.shape)));
    });
    this.accBeta1 = f32(this.accBeta1 * f32(this.beta1));
    this.accBeta2 = f32(this.accBeta2 * f32(this.beta2));
    this.steps++;
  }

  /**
   * tfjs Adam's weights: the step count, then each variable's first moments, then its second moments.
   * The moment tensors are fresh: the caller disposes them.
   */
  async getWeights(): Promise<NamedWeight[]> {
    const weights: NamedWeight[] = [{ name: 'iter', tensor: tf.scalar(this.steps, 'int32') }];
    const held = this.layout
      ? { names: this.layout.names, shapes: this.layout.variables.map((v) => v.shape) }
      : this.restored;
    if (!held || !this.moments) return weights;
    const { names, shapes } = held;
    const sizes = shapes.map((shape) => tf.util.sizeFromShape(shape));
    const total = sizes.reduce((a, b) => a + b, 0);
    const moments = this.moments;
    const [first, second] = tf.tidy(() => {
      const halves = tf.split(moments, [total, total]);
      const split = (half: tf.Tensor) =>
        (sizes.length === 1 ? [half] : tf.split(half, sizes)).map((piece, i) =>
          piece.reshape(shapes[i]),
        );
      return [split(halves[0]), split(halves[1])];
    });
    names.forEach((name, i) => weights.push({ name: `${name}/m`, tensor: first[i] }));
    names.forEach((name, i) => weights.push({ name: `${name}/v`, tensor: second[i] }));
    return weights;
  }

  /**
   * Restores getWeights' output (or tf.train.adam's): moments by position, as tfjs does, checked against
   * the variables at the first step. Like tfjs, the running powers become beta^(iter+1); a checkpoint
   * that saved them sets them after (setPowers). Does not take ownership of the tensors.
   */
  async setWeights(weights: NamedWeight[]): Promise<void> {
    const [iter, ...moments] = weights;
    if (!iter || iter.name !== 'iter')
      throw new Error(`Adam weights must start with the step count 'iter' (got '${iter?.name}')`);
    if (moments.length % 2 !== 0)
      throw new Error(
        `Adam weights: expected first and second moments in pairs, got ${moments.length}`,
      );
    this.steps = (await iter.tensor.data())[0];
    this.accBeta1 = f32(this.beta1 ** (this.steps + 1));
    this.accBeta2 = f32(this.beta2 ** (this.steps + 1));
    this.moments?.dispose();
    this.moments = null;
    this.layout = null;
    this.restored = null;
    if (moments.length === 0) return;
    const count = moments.length / 2;
    this.restored = {
      names: moments.slice(0, count).map((m) => m.name.replace(/\/m$/, '')),
      shapes: moments.slice(0, count).map((m) => m.tensor.shape),
    };
    this.moments = tf.tidy(() => tf.variable(concatFlat(moments.map((m) => m.tensor)), false));
  }

  setPowers(accBeta1: number, accBeta2: number): void {
    this.accBeta1 = f32(accBeta1);
    this.accBeta2 = f32(accBeta2);
  }

  dispose(): void {
    this.moments?.dispose();
    this.moments = null;
    this.layout = null;
  }

  private layoutFor(gradients: tf.NamedTensorMap): Layout {
    const names = Object.keys(gradients);
    if (this.layout) {
      const known = this.layout.names;
      if (names.length !== known.length || names.some((name, i) => name !== known[i])) {
        throw new Error(
          `Adam: gradients for [${names.join(', ')}] differ from the first step's variables [${known.join(', ')}]`,
        );
      }
      return this.layout;
    }
    if (names.length === 0) throw new Error('Adam: no gradients to apply');
    const registered = tf.engine().registeredVariables;
    const variables = names.map((name) => {
      const variable = registered[name];
      if (!variable) throw new Error(`Adam: no variable named '${name}'`);
      if (!tf.util.arraysEqual(variable.shape, gradients[name].shape))
        throw new Error(
          `Adam: gradient for '${name}' has shape [${gradients[name].shape}], the variable [${variable.shape}]`,
        );
      return variable;
    });
    const sizes = variables.map((v) => v.size);
    const restoredSizes = this.restored?.shapes.map((shape) => tf.util.sizeFromShape(shape));
    if (restoredSizes && !tf.util.arraysEqual(restoredSizes, sizes)) {
      throw new Error(
        `Adam: restored moments are for variables of sizes [${restoredSizes}], the gradients' are [${sizes}]`,
      );
    }
    this.restored = null;
    this.layout = { names, variables, sizes, total: sizes.reduce((a, b) => a + b, 0) };
    return this.layout;
  }

  private momentsFor(layout: Layout): tf.Variable {
    if (!this.moments)
      this.moments = tf.tidy(() => tf.variable(tf.zeros([2 * layout.total]), false));
    return this.moments;
  }
}

function concatFlat(tensors: tf.Tensor[]): tf.Tensor1D {
  return tf.tidy(() => {
    const flat = tensors.map((t) => t.reshape([-1]) as tf.Tensor1D);
    return flat.length === 1 ? flat[0] : tf.concat1d(flat);
  });
}

interface AdamScalars {
  beta1: number;
  oneMinusBeta1: number;
  beta2: number;
  oneMinusBeta2: number;
  /** 1 - beta1^t and 1 - beta2^t. */
  correction1: number;
  correction2: number;
  epsilon: number;
  negativeLearningRate: number;
}

/**
 * New moments [2N] and weights [N] from the moments, gradients and weights. Two kernels on webgpu; tfjs
 * ops in tfjs Adam's order of operations elsewhere.
 */
export function adamUpdate(
  moments: tf.Tensor,
  gradients: tf.Tensor1D,
  weights: tf.Tensor1D,
  s: AdamScalars,
): { moments: tf.Tensor1D; weights: tf.Tensor1D } {
  if (moments.size !== 2 * gradients.size || weights.size !== gradients.size)
    throw new Error(
      `Adam: ${gradients.size} gradients need ${2 * gradients.size} moments and ${gradients.size} weights (got ${moments.size} and ${weights.size})`,
    );
  if (tf.getBackend() === 'webgpu') return webGpuAdamUpdate(moments, gradients, weights, s);
  return tf.tidy(() => {
    const [first, second] = tf.split(moments.reshape([-1]), 2);
    const newFirst = tf.add(tf.mul(first, s.beta1), tf.mul(gradients, s.oneMinusBeta1));
    const newSecond = tf.add(
      tf.mul(second, s.beta2),
      tf.mul(tf.square(gradients), s.oneMinusBeta2),
    );
    const step = tf.div(
      tf.div(newFirst, s.correction1),
      tf.add(tf.sqrt(tf.div(newSecond, s.correction2)), s.epsilon),
    );
    return {
      moments: tf.concat1d([newFirst as tf.Tensor1D, newSecond as tf.Tensor1D]),
      weights: tf.add(tf.mul(step, s.negativeLearningRate), weights) as tf.Tensor1D,
    };
  });
}

const WORKGROUP = 64;

function flatProgram(
  shaderKey: string,
  size: number,
  variableNames: string[],
  uniforms: string,
  body: string,
): WebGPUProgram {
  return {
    shaderKey,
    outputShape: [size],
    dispatchLayout: { x: [0] },
    dispatch: [Math.ceil(size / WORKGROUP), 1, 1],
    workgroupSize: [WORKGROUP, 1, 1],
    variableNames,
    uniforms,
    size: true,
    getUserCode: () => `
      fn main(index : i32) {
        if (index < uniforms.size) {
          ${body}
        }
      }`,
  };
}

function webGpuAdamUpdate(
  moments: tf.Tensor,
  gradients: tf.Tensor1D,
  weights: tf.Tensor1D,
  s: AdamScalars,
): { moments: tf.Tensor1D; weights: tf.Tensor1D } {
  const backend = tf.backend() as unknown as WebGPUBackend;
  const n = gradients.size;
  const float = (value: number) => ({ type: 'float32', data: [value] });
  // Moments: the first half from the first moments, the second from the second.
  const momentsProgram = flatProgram(
    'rirAdamMoments',
    2 * n,
    ['M', 'G'],
    'beta1 : f32, oneMinusBeta1 : f32, beta2 : f32, oneMinusBeta2 : f32, n : i32,',
    `let m = M[index];
          if (index < uniforms.n) {
            let g = G[index];
            setOutputAtIndex(index, m * uniforms.beta1 + g * uniforms.oneMinusBeta1);
          } else {
            let g = G[index - uniforms.n];
            setOutputAtIndex(index, m * uniforms.beta2 + (g * g) * uniforms.oneMinusBeta2);
          }`,
  );
  const weightsProgram = flatProgram(
    'rirAdamWeights',
    n,
    ['M', 'W'],
    'correction1 : f32, correction2 : f32, epsilon : f32, negativeLearningRate : f32,',
    `let first = M[index] / uniforms.correction1;
          let second = M[index + uniforms.size] / uniforms.correction2;
          setOutputAtIndex(index, (first / (sqrt(second) + uniforms.epsilon)) * uniforms.negativeLearningRate + W[index]);`,
  );
  const flatMoments = moments.reshape([-1]);
  try {
    const newMoments = backend.runWebGPUProgram(
      momentsProgram,
      [flatMoments, gradients],
      'float32',
      [
        float(s.beta1),
        float(s.oneMinusBeta1),
        float(s.beta2),
        float(s.oneMinusBeta2),
        { type: 'int32', data: [n] },
      ],
    );
    const newWeights = backend.runWebGPUProgram(weightsProgram, [newMoments, weights], 'float32', [
      float(s.correction1),
      float(s.correction2),
      float(s.epsilon),
      float(s.negativeLearningRate),
    ]);
    const engine = tf.engine();
    return {
      moments: engine.makeTensorFromTensorInfo(newMoments) as tf.Tensor1D,
      weights: engine.makeTensorFromTensorInfo(newWeights) as tf.Tensor1D,
    };
  } finally {
    flatMoments.dispose();
  }
}
