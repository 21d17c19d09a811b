/**
 * Run in a child process by src/workers/jobs-webgpu.spec.ts (the Vulkan loader reads the environment the
 * process started with): a training job (training, then its quick attack suite) and a probe, each through
 * its worker thread exactly as the service starts them, on the backend named by argv[2] (webgpu or cpu).
 * Prints one JSON object: the job's metrics, epoch history (with the fast inner maximisation's
 * overfitting check) and quick-suite figures, and the probe report's figures.
 */
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runThread, workerEntry } from '../../src/workers/thread';
import type { TrainingJobInput } from '../../src/workers/training.worker';
import type { AttackThreadInput } from '../../src/workers/attack.worker';
import type { TrainingJobResult } from '../../src/modules/training/training-spec';
import type { ProbeOutcome } from '../../src/modules/probes/runner/run-probe';
import { PROBE_DEFAULTS } from '../../src/modules/probes/runner/probe-config';

const WORKERS_DIR = path.join(__dirname, '..', '..', 'src', 'workers');

async function main(): Promise<void> {
  const backend = process.argv[2] ?? 'webgpu';
  const dir = mkdtempSync(path.join(os.tmpdir(), `rir-jobs-${backend}-`));
  try {
    const job = await runThread<TrainingJobResult, unknown>(
      workerEntry(WORKERS_DIR, 'training.worker'),
      {
        kind: 'job',
        backend,
        jobId: 'webgpu-check',
        checkpointDir: dir,
        attempt: 1,
        spec: {
          datasetName: 'mnist',
          dataset: 'mnist',
          backbone: 'small-cnn',
          embeddingDim: 16,
          loss: 'triplet',
          defense: 'panum',
          defenseOptions: { eps: 0.3, steps: 2 },
          // The fast inner maximisation: its end-of-epoch overfitting check attacks on webgpu too.
          inner: 'fast',
          onOverfit: 'warn',
          epochs: 1,
          stepsPerEpoch: 2,
          batchSize: 8,
          perClass: 4,
          learningRate: 1e-3,
          seed: 3,
          maxTrain: 40,
          maxValidation: 8,
          maxTest: 16,
          robustness: { samples: 6, steps: 2 },
        },
      } satisfies TrainingJobInput,
      {},
    );
    const probe = await runThread<ProbeOutcome, unknown>(
      workerEntry(WORKERS_DIR, 'attack.worker'),
      {
        kind: 'probe',
        backend,
        input: {
          modelId: 'webgpu-check',
          modelDir: job.modelDir as string,
          source: { kind: 'dataset', name: 'mnist', limit: 16, seed: 3 },
          config: {
            ...PROBE_DEFAULTS,
            model: 'webgpu-check',
            attacks: ['ES', 'CA+'],
            eps: [0.1, 0.3],
            steps: 2,
            sampleSize: 4,
            gallerySize: 16,
            seed: 3,
            examples: 1,
            queriesPerCandidate: 1,
          },
        },
      } satisfies AttackThreadInput,
      {},
    );
    const report = probe.report;
    console.log(
      JSON.stringify({
        backend,
        job: {
          metrics: job.metrics,
          robustness: job.robustness,
          // The epoch records (with the overfitting check) stay in the manifest.
          robustCheck: (
            JSON.parse(
              readFileSync(path.join(job.modelDir as string, 'manifest.json'), 'utf8'),
            ) as {
              metrics: { history: Array<{ robustCheck?: Record<string, number> }> };
            }
          ).metrics.history.map((epoch) => epoch.robustCheck ?? null),
        },
        probe: {
          clean: report.clean,
          figures: report.figures,
          curve: report.curve.map((point) => ({ eps: point.eps, recallAt1: point.recallAt1 })),
          candidates: report.candidateRanks?.candidates ?? null,
          examples: report.examples.length,
          maxPerturbation: report.sanity.maxPerturbation,
        },
      }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
