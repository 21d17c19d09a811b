/**
 * A replica of the reference net in its own thread and wasm backend. Every replica starts from the same
 * seed and applies the same averaged gradients, so all replicas hold identical parameters.
 */
import type { TransferListItem } from 'worker_threads';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/ml/backend';
import { serveRequests } from '../../src/workers/pool';
import { FlatAdam } from './flat-adam';
import { flatGradients, pgdStep, ReferenceNet, unflatten } from './reference-net';
import type { ReplicaConfig, ReplicaRequest, ReplicaResult } from './replica.protocol';

let net: ReferenceNet | null = null;
let optimizer: FlatAdam | null = null;
/** The parameters as one vector, in referenceParamShapes order: Adam updates it, then the variables. */
let flatParams: Float32Array | null = null;
let config: ReplicaConfig | null = null;

function images(values: Float32Array): tf.Tensor4D {
  if (!config) throw new Error('replica not initialised');
  const per = config.size * config.size * config.channels;
  if (values.length % per !== 0)
    throw new Error(`images: ${values.length} values is not a multiple of ${per} (one image)`);
  return tf.tensor4d(values, [values.length / per, config.size, config.size, config.channels]);
}

/** The parameters flattened in parameter order (the layout of gradients and FlatAdam's vector). */
function paramVector(replica: ReferenceNet): Float32Array {
  const flat = tf.tidy(() => tf.concat(replica.params.map((p) => p.reshape([-1]))));
  const values = flat.dataSync() as Float32Array;
  flat.dispose();
  return values;
}

function ready(): ReferenceNet {
  if (!net) throw new Error('replica not initialised');
  return net;
}

async function handle(request: ReplicaRequest): Promise<ReplicaResult> {
  switch (request.kind) {
    case 'init': {
      const info = await initBackend(request.config.backend);
      net?.dispose();
      config = request.config;
      net = new ReferenceNet({
        size: config.size,
        channels: config.channels,
        seed: config.seed,
        fused: config.fused,
      });
      flatParams = paramVector(net);
      optimizer = new FlatAdam(flatParams.length, { learningRate: config.learningRate });
      return { kind: 'ready', backend: info.name };
    }
    case 'gradients': {
      const x = images(request.images);
      const labels = tf.tensor1d(request.labels, 'int32');
      try {
        const { loss, gradients } = flatGradients(ready(), x, labels);
        return { kind: 'gradients', loss, gradients };
      } finally {
        tf.dispose([x, labels]);
      }
    }
    case 'apply': {
      optimizer!.apply(flatParams!, request.gradients);
      // A copy: the cpu backend keeps the array it is given, and flatParams changes next step.
      const { params } = ready();
      unflatten(ready(), flatParams!.slice()).forEach(({ tensor }, i) => {
        params[i].assign(tensor);
        tensor.dispose();
      });
      return { kind: 'applied' };
    }
    case 'infer': {
      const values = tf
        .tidy(() => ready().embed(images(request.images)))
        .dataSync() as Float32Array;
      return { kind: 'tensor', values };
    }
    case 'pgd': {
      const result = tf.tidy(() => {
        const labels = tf.tensor1d(request.labels, 'int32');
        return pgdStep(ready(), images(request.images), labels, request.stepSize);
      });
      const values = (await result.data()) as Float32Array;
      result.dispose();
      return { kind: 'tensor', values };
    }
    case 'params': {
      return { kind: 'tensor', values: paramVector(ready()) };
    }
  }
}

/** Result buffers move to the coordinator instead of being copied. */
function transferOf(result: ReplicaResult): TransferListItem[] {
  if (result.kind === 'gradients') return [result.gradients.buffer as ArrayBuffer];
  if (result.kind === 'tensor') return [result.values.buffer as ArrayBuffer];
  return [];
}

serveRequests<ReplicaRequest, ReplicaResult>(handle, transferOf);
