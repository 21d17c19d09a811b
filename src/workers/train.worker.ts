/**
 * Worker-thread entry for one training job: starts its own tfjs backend, trains, reports progress and
 * the result to the parent, and stops at the next step when told to cancel.
 */
import { parentPort, workerData } from 'worker_threads';
import { initBackend } from '../ml/backend';
import type {
  TrainWorkerCommand,
  TrainWorkerData,
  TrainWorkerMessage,
} from '../ml/training/run-in-worker';
import { trainEmbeddingModel } from '../ml/training/trainer';

async function main(): Promise<void> {
  if (!parentPort) throw new Error('train.worker must run in a worker thread');
  const port = parentPort;
  const { config, backend } = workerData as TrainWorkerData;
  const controller = new AbortController();
  port.on('message', (command: TrainWorkerCommand) => {
    if (command.type === 'cancel') controller.abort();
  });
  const send = (message: TrainWorkerMessage) => port.postMessage(message);
  try {
    await initBackend(backend);
    const result = await trainEmbeddingModel(config, {
      signal: controller.signal,
      onProgress: (event) => send({ type: 'progress', event }),
    });
    send({ type: 'result', result });
  } catch (error) {
    const err = error instanceof Error ? error : new Error(String(error));
    send({ type: 'error', name: err.name, message: err.message });
  } finally {
    port.close();
  }
}

void main();
