/**
 * A float64 reference, in plain loops, for one training step of the small CNN (src/ml/models/small-cnn.ts) under
 * the batch-hard triplet loss on L2-normalised embeddings: the forward pass in training mode (batch
 * statistics) and the gradient of the loss for every trainable weight. Test support only: it lets a spec
 * measure how far each float32 backend is from the exact gradient instead of only from each other.
 */
import * as tf from '@tensorflow/tfjs';
import type { EmbeddingModel } from '../../src/ml/models';

export interface SmallCnnWeights {
  /** [3, 3, cin, cout] kernels, row-major as tfjs stores them. */
  convs: Float32Array[];
  convShapes: [number, number, number, number][];
  /** Batch-norm gamma and beta after each conv. */
  bnGamma: Float32Array[];
  bnBeta: Float32Array[];
  headGamma: Float32Array;
  headBeta: Float32Array;
  /** [features, dim] and [dim]. */
  dense: Float32Array;
  denseBias: Float32Array;
}

export interface SmallCnnGradients {
  loss: number;
  /** By the weight's original name: conv1/kernel, conv1_bn/gamma, ..., embedding/bias. */
  grads: Record<string, Float64Array>;
  /** Each conv block's batch-norm output (before ReLU), NHWC. */
  preActivations: Float64Array[];
  /** Each conv block's max-pool choices: the flat index into preActivations per pooled output. */
  poolChoices: Int32Array[];
}

const BN_EPSILON = 1e-3;
const MARGIN = 0.2;

interface Tensor {
  data: Float64Array;
  n: number;
  h: number;
  w: number;
  c: number;
}

/** 3x3 'same' stride-1 convolution without bias, NHWC. */
function conv3x3(x: Tensor, k: Float64Array, cout: number): Tensor {
  const { n, h, w, c } = x;
  const out = new Float64Array(n * h * w * cout);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < h; i++)
      for (let j = 0; j < w; j++) {
        const o = ((b * h + i) * w + j) * cout;
        for (let di = 0; di < 3; di++) {
          const r = i + di - 1;
          if (r < 0 || r >= h) continue;
          for (let dj = 0; dj < 3; dj++) {
            const s = j + dj - 1;
            if (s < 0 || s >= w) continue;
            const xi = ((b * h + r) * w + s) * c;
            const ki = (di * 3 + dj) * c * cout;
            for (let ci = 0; ci < c; ci++) {
              const v = x.data[xi + ci];
              if (v === 0) continue;
              const kr = ki + ci * cout;
              for (let co = 0; co < cout; co++) out[o + co] += v * k[kr + co];
            }
          }
        }
      }
  return { data: out, n, h, w, c: cout };
}

/** Gradients of conv3x3 w.r.t. its kernel and (when wanted) its input. */
function conv3x3Backward(
  x: Tensor,
  k: Float64Array,
  dy: Float64Array,
  cout: number,
  wantDx: boolean,
): { dk: Float64Array; dx: Float64Array | null } {
  const { n, h, w, c } = x;
  const dk = new Float64Array(9 * c * cout);
  const dx = wantDx ? new Float64Array(n * h * w * c) : null;
  for (let b = 0; b < n; b++)
    for (let i = 0; i < h; i++)
      for (let j = 0; j < w; j++) {
        const o = ((b * h + i) * w + j) * cout;
        for (let di = 0; di < 3; di++) {
          const r = i + di - 1;
          if (r < 0 || r >= h) continue;
          for (let dj = 0; dj < 3; dj++) {
            const s = j + dj - 1;
            if (s < 0 || s >= w) continue;
            const xi = ((b * h + r) * w + s) * c;
            const ki = (di * 3 + dj) * c * cout;
            for (let ci = 0; ci < c; ci++) {
              const v = x.data[xi + ci];
              const kr = ki + ci * cout;
              let acc = 0;
              for (let co = 0; co < cout; co++) {
                dk[kr + co] += v * dy[o + co];
                acc += k[kr + co] * dy[o + co];
              }
              if (dx) dx[xi + ci] += acc;
            }
          }
        }
      }
  return { dk, dx };
}

interface BatchNormCache {
  xhat: Float64Array;
  invStd: Float64Array;
}

/** Training-mode batch norm over all but the last axis (rows x channels). */
function batchNorm(
  x: Float64Array,
  channels: number,
  gamma: Float32Array,
  beta: Float32Array,
): { y: Float64Array; cache: BatchNormCache } {
  const rows = x.length / channels;
  const mean = new Float64Array(channels);
  const variance = new Float64Array(channels);
  for (let r = 0; r < rows; r++)
    for (let ch = 0; ch < channels; ch++) mean[ch] += x[r * channels + ch];
  for (let ch = 0; ch < channels; ch++) mean[ch] /= rows;
  for (let r = 0; r < rows; r++)
    for (let ch = 0; ch < channels; ch++) variance[ch] += (x[r * channels + ch] - mean[ch]) ** 2;
  const invStd = new Float64Array(channels);
  for (let ch = 0; ch < channels; ch++)
    invStd[ch] = 1 / Math.sqrt(variance[ch] / rows + BN_EPSILON);
  const xhat = new Float64Array(x.length);
  const y = new Float64Array(x.length);
  for (let r = 0; r < rows; r++)
    for (let ch = 0; ch < channels; ch++) {
      const i = r * channels + ch;
      xhat[i] = (x[i] - mean[ch]) * invStd[ch];
      y[i] = gamma[ch] * xhat[i] + beta[ch];
    }
  return { y, cache: { xhat, invStd } };
}

/** dx = gamma*invstd/N * (N*dy - sum(dy) - xhat*sum(dy*xhat)); also dgamma, dbeta. */
function batchNormBackward(
  dy: Float64Array,
  channels: number,
  gamma: Float32Array,
  { xhat, invStd }: BatchNormCache,
): { dx: Float64Array; dGamma: Float64Array; dBeta: Float64Array } {
  const rows = dy.length / channels;
  const dBeta = new Float64Array(channels);
  const dGamma = new Float64Array(channels);
  for (let r = 0; r < rows; r++)
    for (let ch = 0; ch < channels; ch++) {
      const i = r * channels + ch;
      dBeta[ch] += dy[i];
      dGamma[ch] += dy[i] * xhat[i];
    }
  const dx = new Float64Array(dy.length);
  for (let r = 0; r < rows; r++)
    for (let ch = 0; ch < channels; ch++) {
      const i = r * channels + ch;
      dx[i] = ((gamma[ch] * invStd[ch]) / rows) * (rows * dy[i] - dBeta[ch] - xhat[i] * dGamma[ch]);
    }
  return { dx, dGamma, dBeta };
}

/**
 * ReLU then 2x2 stride-2 'same' max-pool, each window's gradient to its first maximum in scan order (as
 * TensorFlow). `decide` (default: x itself) holds the values the window maxima and ReLU masks are
 * chosen from, so the pass can follow the branch another (float32) forward pass took.
 */
function reluPool(x: Tensor, decide: ArrayLike<number>): { y: Tensor; argmax: Int32Array } {
  const { n, h, w, c } = x;
  const oh = Math.ceil(h / 2);
  const ow = Math.ceil(w / 2);
  const out = new Float64Array(n * oh * ow * c);
  const argmax = new Int32Array(out.length);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++)
        for (let ch = 0; ch < c; ch++) {
          let best = -Infinity;
          let at = -1;
          for (let di = 0; di < 2; di++)
            for (let dj = 0; dj < 2; dj++) {
              const r = 2 * i + di;
              const s = 2 * j + dj;
              if (r >= h || s >= w) continue;
              const idx = ((b * h + r) * w + s) * c + ch;
              const v = Math.max(0, decide[idx]);
              if (v > best) {
                best = v;
                at = idx;
              }
            }
          const o = ((b * oh + i) * ow + j) * c + ch;
          out[o] = decide[at] > 0 ? x.data[at] : 0;
          argmax[o] = at;
        }
  return { y: { data: out, n, h: oh, w: ow, c }, argmax };
}

function reluPoolBackward(
  decide: ArrayLike<number>,
  argmax: Int32Array,
  dy: Float64Array,
): Float64Array {
  const dx = new Float64Array(decide.length);
  for (let o = 0; o < dy.length; o++) if (decide[argmax[o]] > 0) dx[argmax[o]] += dy[o];
  return dx;
}

/**
 * Loss and exact gradients for images [n, h, w, 1] (row-major) and their labels. Batch-hard mining picks
 * each anchor's farthest positive and nearest negative from the float64 distances. `branch`, when given,
 * holds each conv block's batch-norm output from another forward pass (e.g. a float32 backend's): the
 * ReLU masks and max-pool choices then follow it, everything else is computed in float64. That is the
 * exact gradient of the piece of this piecewise-smooth function the other pass landed on.
 */
export function smallCnnGradients(
  images: Float32Array,
  shape: [number, number, number, number],
  labels: ArrayLike<number>,
  weights: SmallCnnWeights,
  branch?: ArrayLike<number>[],
): SmallCnnGradients {
  const [n, h, w, c] = shape;
  let x: Tensor = { data: Float64Array.from(images), n, h, w, c };
  const kernels = weights.convs.map((k) => Float64Array.from(k));
  const blocks: {
    input: Tensor;
    pre: Float64Array;
    decide: ArrayLike<number>;
    cache: BatchNormCache;
    argmax: Int32Array;
  }[] = [];
  weights.convShapes.forEach((shape4, i) => {
    const cout = shape4[3];
    const conv = conv3x3(x, kernels[i], cout);
    const bn = batchNorm(conv.data, cout, weights.bnGamma[i], weights.bnBeta[i]);
    const decide = branch?.[i] ?? bn.y;
    if (decide.length !== bn.y.length)
      throw new Error(`branch ${i}: expected ${bn.y.length} values, got ${decide.length}`);
    const pooled = reluPool({ ...conv, data: bn.y }, decide);
    blocks.push({ input: x, pre: bn.y, decide, cache: bn.cache, argmax: pooled.argmax });
    x = pooled.y;
  });
  const features = x.h * x.w * x.c;
  const head = batchNorm(x.data, features, weights.headGamma, weights.headBeta);
  const dim = weights.denseBias.length;
  const raw = new Float64Array(n * dim);
  for (let b = 0; b < n; b++)
    for (let d = 0; d < dim; d++) {
      let acc = weights.denseBias[d];
      for (let f = 0; f < features; f++)
        acc += head.y[b * features + f] * weights.dense[f * dim + d];
      raw[b * dim + d] = acc;
    }
  const norms = new Float64Array(n);
  const unit = new Float64Array(n * dim);
  for (let b = 0; b < n; b++) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += raw[b * dim + d] ** 2;
    norms[b] = Math.sqrt(Math.max(s, 1e-12));
    for (let d = 0; d < dim; d++) unit[b * dim + d] = raw[b * dim + d] / norms[b];
  }
  const distance = (a: number, b: number) => {
    let s = 0;
    for (let d = 0; d < dim; d++) s += (unit[a * dim + d] - unit[b * dim + d]) ** 2;
    return Math.sqrt(Math.max(s, 1e-12));
  };
  const triplets: [number, number, number][] = [];
  for (let a = 0; a < n; a++) {
    let p = -1;
    let q = -1;
    for (let j = 0; j < n; j++) {
      if (j === a) continue;
      if (labels[j] === labels[a]) {
        if (p < 0 || distance(a, j) > distance(a, p)) p = j;
      } else if (q < 0 || distance(a, j) < distance(a, q)) q = j;
    }
    if (p >= 0 && q >= 0) triplets.push([a, p, q]);
  }
  // d loss / d unit
  const dUnit = new Float64Array(n * dim);
  let loss = 0;
  const addDistanceGrad = (a: number, b: number, scale: number) => {
    const dist = distance(a, b);
    for (let d = 0; d < dim; d++) {
      const g = (scale * (unit[a * dim + d] - unit[b * dim + d])) / dist;
      dUnit[a * dim + d] += g;
      dUnit[b * dim + d] -= g;
    }
  };
  for (const [a, p, q] of triplets) {
    const hinge = distance(a, p) - distance(a, q) + MARGIN;
    if (hinge <= 0) continue;
    loss += hinge / triplets.length;
    addDistanceGrad(a, p, 1 / triplets.length);
    addDistanceGrad(a, q, -1 / triplets.length);
  }
  // through the L2 normalisation: (g - u (u.g)) / |r|
  const dRaw = new Float64Array(n * dim);
  for (let b = 0; b < n; b++) {
    let dot = 0;
    for (let d = 0; d < dim; d++) dot += unit[b * dim + d] * dUnit[b * dim + d];
    for (let d = 0; d < dim; d++)
      dRaw[b * dim + d] = (dUnit[b * dim + d] - unit[b * dim + d] * dot) / norms[b];
  }
  const grads: Record<string, Float64Array> = {};
  const dDense = new Float64Array(features * dim);
  const dDenseBias = new Float64Array(dim);
  const dHead = new Float64Array(n * features);
  for (let b = 0; b < n; b++)
    for (let d = 0; d < dim; d++) {
      const g = dRaw[b * dim + d];
      dDenseBias[d] += g;
      for (let f = 0; f < features; f++) {
        dDense[f * dim + d] += head.y[b * features + f] * g;
        dHead[b * features + f] += weights.dense[f * dim + d] * g;
      }
    }
  grads['embedding/kernel'] = dDense;
  grads['embedding/bias'] = dDenseBias;
  const headBack = batchNormBackward(dHead, features, weights.headGamma, head.cache);
  grads['head_bn/gamma'] = headBack.dGamma;
  grads['head_bn/beta'] = headBack.dBeta;
  let dy = headBack.dx;
  for (let i = blocks.length - 1; i >= 0; i--) {
    const { input, decide, cache, argmax } = blocks[i];
    const cout = weights.convShapes[i][3];
    const dPre = reluPoolBackward(decide, argmax, dy);
    const bn = batchNormBackward(dPre, cout, weights.bnGamma[i], cache);
    grads[`conv${i + 1}_bn/gamma`] = bn.dGamma;
    grads[`conv${i + 1}_bn/beta`] = bn.dBeta;
    const back = conv3x3Backward(input, kernels[i], bn.dx, cout, i > 0);
    grads[`conv${i + 1}/kernel`] = back.dk;
    if (back.dx) dy = back.dx;
  }
  return {
    loss,
    grads,
    preActivations: blocks.map((b) => b.pre),
    poolChoices: blocks.map((b) => b.argmax),
  };
}

/** Norm of the difference over the norm of the reference. */
export function relativeError(actual: ArrayLike<number>, reference: ArrayLike<number>): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < reference.length; i++) {
    diff += (actual[i] - reference[i]) ** 2;
    norm += reference[i] ** 2;
  }
  return Math.sqrt(diff) / Math.max(Math.sqrt(norm), 1e-12);
}

/** The float32 weights of a small CNN, in the reference's layout. */
export function referenceWeights(model: EmbeddingModel): SmallCnnWeights {
  const values = (layer: string, i: number) =>
    model.model.getLayer(layer).getWeights()[i].dataSync() as Float32Array;
  const blocks = [1, 2, 3];
  return {
    convs: blocks.map((i) => values(`conv${i}`, 0)),
    convShapes: blocks.map(
      (i) =>
        model.model.getLayer(`conv${i}`).getWeights()[0].shape as [number, number, number, number],
    ),
    bnGamma: blocks.map((i) => values(`conv${i}_bn`, 0)),
    bnBeta: blocks.map((i) => values(`conv${i}_bn`, 1)),
    headGamma: values('head_bn', 0),
    headBeta: values('head_bn', 1),
    dense: values('embedding', 0),
    denseBias: values('embedding', 1),
  };
}

/** The backend's batch-norm outputs of the three conv blocks, from a training-mode forward pass. */
export function blockOutputs(model: EmbeddingModel, images: tf.Tensor4D): Float32Array[] {
  return tf.tidy(() => {
    let x: tf.Tensor = images;
    const out: Float32Array[] = [];
    for (const layer of model.model.layers.slice(1)) {
      if (layer.name === 'flatten') break;
      x = layer.apply(x, { training: true }) as tf.Tensor;
      if (layer.name.endsWith('_bn')) out.push(x.dataSync().slice() as Float32Array);
    }
    return out;
  });
}
