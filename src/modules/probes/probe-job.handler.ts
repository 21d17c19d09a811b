import { Inject, Injectable } from '@nestjs/common';
import * as path from 'path';
import { APP_CONFIG, AppConfig } from '../../config';
import { sampleDistinct, SeededRandom } from '../../ml/attacks/random';
import { formatAttackProgress } from '../../ml/attacks/suite';
import type { AttackThreadInput } from '../../workers/attack.worker';
import { runThread, workerEntry } from '../../workers/thread';
import { GalleryService } from '../gallery/gallery.service';
import type { Job, JobContext, JobProgress } from '../jobs';
import { ModelRegistryService } from '../models/model-registry.service';
import { composeExamplePng } from './example-image';
import { ProbesRepository } from './probes.repository';
import type { ProbeConfig } from './runner/probe-config';
import type { ProbeSetSource } from './runner/probe-set';
import type { ProbeInput, ProbeOutcome, ProbeProgress } from './runner/run-probe';

const WORKERS_DIR = path.join(__dirname, '..', '..', 'workers');

/**
 * Runs one probe job: resolves the model directory and the probe set's images (read-only), runs the
 * probe in a worker thread, stores the example PNGs, and returns the report as the job's result.
 */
@Injectable()
export class ProbeJobHandler {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly registry: ModelRegistryService,
    private readonly gallery: GalleryService,
    private readonly probes: ProbesRepository,
  ) {}

  async run(job: Job, ctx: JobContext): Promise<Record<string, unknown>> {
    const { config } = job.payload as { config: ProbeConfig };
    const model = await this.registry.get(config.model);
    const input: ProbeInput = {
      modelId: model.id,
      modelDir: model.directory,
      config,
      source: await this.source(config),
    };
    const result = await runThread<ProbeOutcome, ProbeProgress>(
      workerEntry(WORKERS_DIR, 'attack.worker'),
      { kind: 'probe', input, backend: this.config.tfjsBackend } satisfies AttackThreadInput,
      {
        signal: ctx.signal,
        nice: ctx.threadNice,
        onProgress: (progress) => ctx.reportProgress(toJobProgress(progress)),
      },
    );
    const rows = [];
    for (const images of result.images)
      rows.push({ n: images.n, ...(await composeExamplePng(images)) });
    await this.probes.saveExamples(job.id, rows);
    return { report: result.report };
  }

  /** The labelled gallery sample is drawn here (seeded), so the worker only reads files. */
  private async source(config: ProbeConfig): Promise<ProbeSetSource> {
    if (config.probeSet === 'dataset:mnist')
      return { kind: 'dataset', name: 'mnist', limit: config.gallerySize, seed: config.seed };
    const all = await this.probes.labelledGalleryItems();
    const chosen = sampleDistinct(new SeededRandom(config.seed), all.length, config.gallerySize)
      .sort((a, b) => a - b)
      .map((i) => all[i]);
    return {
      kind: 'gallery',
      items: chosen.map((item) => ({
        id: item.id,
        label: item.label,
        path: this.gallery.images.pathOf(item.contentSha256),
      })),
    };
  }
}

/** A probe's progress as the job shows it: phase, share done and the attack's "ES: 40/200". */
function toJobProgress({ phase, fraction, attack, done, total }: ProbeProgress): JobProgress {
  return {
    phase,
    fraction,
    ...(attack !== undefined && done !== undefined && total !== undefined
      ? { message: formatAttackProgress({ attack, done, total }) }
      : {}),
  };
}
