/**
 * Worker-thread entry of a robustness evaluation (`rir attack`): its own tfjs backend, progress posted
 * back as it goes, then the report (plain JSON) or the error message.
 */
import { parentPort, workerData } from 'worker_threads';
import { initBackend } from '../ml/backend';
import { evaluateRobustness, type RobustnessRequest } from '../ml/robustness/evaluate';
import type { RobustnessReport } from '../ml/robustness/report';

export interface AttackWorkerData {
  request: RobustnessRequest;
  backend?: string;
}

export type AttackWorkerMessage =
  | { type: 'progress'; message: string }
  | { type: 'done'; report: RobustnessReport }
  | { type: 'failed'; message: string };

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('attack.worker must run in a worker thread');
  const { request, backend } = workerData as AttackWorkerData;
  const post = (message: AttackWorkerMessage): void => port.postMessage(message);
  try {
    await initBackend(backend);
    const report = await evaluateRobustness(request, (message) =>
      post({ type: 'progress', message }),
    );
    post({ type: 'done', report });
  } catch (error) {
    post({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
  } finally {
    port.close();
  }
}

void main();
