import { BadRequestException, Injectable, NotFoundException, OnModuleInit } from '@nestjs/common';
import { JobRunner, JobsService, type JobAcceptedDto, type JobStatus } from '../jobs';
import { parseAttackList } from '../../ml/attacks/definitions';
import { ModelRegistryService } from '../models/model-registry.service';
import { CreateProbeDto } from './dto/create-probe.dto';
import { ProbeJobHandler } from './probe-job.handler';
import type { Page } from '../../common/paging';
import {
  probeSummary,
  probeView,
  storedProbeReport,
  type ProbeSummaryDto,
  type ProbeViewDto,
} from './probe-view';
import { ProbesRepository } from './probes.repository';
import { renderProbeHtml } from './report-html';
import {
  parseEps,
  PROBE_DEFAULTS,
  type ProbeConfig,
  type ProbeSetName,
} from './runner/probe-config';
import { DATASET_IMAGE_SHAPES, heldOutCount } from './runner/probe-set';

export const PROBE_JOB = 'probe';

/** Reads [h, w, c] from a manifest (top level as the model store writes it, or under `spec`). */
function inputShapeOf(manifest: Record<string, unknown>): [number, number, number] | null {
  const source = (manifest.spec ?? manifest) as { inputShape?: unknown };
  const shape = source.inputShape;
  return Array.isArray(shape) && shape.length === 3 && shape.every((v) => Number.isInteger(v))
    ? (shape as [number, number, number])
    : null;
}

/**
 * Security probes: checks a request completely before anything is queued, then runs it as a job of
 * type 'probe' (ProbeJobHandler). A probe only reads the gallery and the model files.
 */
@Injectable()
export class ProbesService implements OnModuleInit {
  private mnistHeldOut: Promise<number> | null = null;

  constructor(
    private readonly jobs: JobsService,
    private readonly runner: JobRunner,
    private readonly registry: ModelRegistryService,
    private readonly probes: ProbesRepository,
    private readonly handler: ProbeJobHandler,
  ) {}

  onModuleInit(): void {
    this.jobs.registerHandler(PROBE_JOB, (job, ctx) => this.handler.run(job, ctx));
  }

  async create(dto: CreateProbeDto): Promise<JobAcceptedDto> {
    const config = await this.resolve(dto);
    const job = await this.jobs.enqueue(PROBE_JOB, { config });
    this.runner.poke();
    return { id: job.id, status: job.status };
  }

  /** The full configuration with defaults, checked against the model and the probe set. */
  async resolve(dto: CreateProbeDto): Promise<ProbeConfig> {
    const modelId = dto.model ?? (await this.deployedModelId());
    const model = await this.registry.get(modelId);
    const inputShape = inputShapeOf(model.manifest);
    if (!inputShape || (inputShape[2] !== 1 && inputShape[2] !== 3))
      throw new BadRequestException(
        `model ${modelId} has no usable inputShape [h, w, 1 or 3] in its manifest`,
      );
    const probeSet = (dto.probeSet ?? PROBE_DEFAULTS.probeSet) as ProbeSetName;
    const gallerySize = dto.gallerySize ?? PROBE_DEFAULTS.gallerySize;
    const available = await this.probeSetSize(probeSet, inputShape, modelId);
    const size = Math.min(gallerySize, available);
    if (size < 2)
      throw new BadRequestException(
        `probe set ${probeSet} has ${size} usable images; a probe needs at least 2`,
      );
    const sampleSize = dto.sampleSize ?? Math.min(PROBE_DEFAULTS.sampleSize, size);
    if (sampleSize > size) {
      throw new BadRequestException(
        `sampleSize ${sampleSize} exceeds the probe set (${probeSet}: ${size} images${size < available ? ` with gallerySize ${gallerySize}` : ''})`,
      );
    }
    const eps =
      dto.eps === undefined
        ? PROBE_DEFAULTS.eps
        : (Array.isArray(dto.eps) ? dto.eps : [dto.eps]).map(parseEps);
    return {
      model: modelId,
      attacks: dto.attacks === undefined ? parseAttackList('all') : parseAttackList(dto.attacks),
      eps: [...new Set(eps)].sort((a, b) => a - b),
      stepSize: dto.stepSize ?? PROBE_DEFAULTS.stepSize,
      steps: dto.steps ?? PROBE_DEFAULTS.steps,
      restarts: dto.restarts ?? PROBE_DEFAULTS.restarts,
      randomStart: dto.randomStart ?? PROBE_DEFAULTS.randomStart,
      sampleSize,
      probeSet,
      gallerySize,
      seed: dto.seed ?? PROBE_DEFAULTS.seed,
      examples: dto.examples ?? PROBE_DEFAULTS.examples,
      queriesPerCandidate: dto.queriesPerCandidate ?? PROBE_DEFAULTS.queriesPerCandidate,
    };
  }

  private async deployedModelId(): Promise<string> {
    const active = (await this.registry.list()).find((model) => model.active);
    if (!active)
      throw new BadRequestException('no model is deployed: name the model to probe with `model`');
    return active.id;
  }

  private async probeSetSize(
    probeSet: ProbeSetName,
    inputShape: [number, number, number],
    modelId: string,
  ): Promise<number> {
    if (probeSet === 'gallery') return this.probes.countLabelledGalleryItems();
    const expected = DATASET_IMAGE_SHAPES.mnist;
    if (inputShape.join('x') !== expected.join('x')) {
      throw new BadRequestException(
        `model ${modelId} takes ${inputShape.join('x')} images but ${probeSet} has ${expected.join('x')}: probe it with probeSet 'gallery'`,
      );
    }
    this.mnistHeldOut ??= heldOutCount('mnist');
    return this.mnistHeldOut;
  }

  async get(id: string): Promise<ProbeViewDto> {
    return probeView(await this.jobs.get(id, PROBE_JOB));
  }

  async list(
    status: JobStatus | undefined,
    page: number,
    limit: number,
  ): Promise<Page<ProbeSummaryDto>> {
    const jobs = await this.jobs.list({ type: PROBE_JOB, status }, page, limit);
    return { ...jobs, items: jobs.items.map(probeSummary) };
  }

  async cancel(id: string): Promise<ProbeViewDto> {
    return probeView(await this.jobs.cancel(id, PROBE_JOB));
  }

  async examplePng(id: string, n: number): Promise<Buffer> {
    const view = await this.get(id);
    const example = await this.probes.findExample(view.id, n);
    if (!example) {
      throw new NotFoundException(
        view.report
          ? `Probe ${id} has ${view.report.examples.length} examples (0..${view.report.examples.length - 1}); no example ${n}`
          : `Probe ${id} has no examples yet (status ${view.status})`,
      );
    }
    return example.png;
  }

  async reportHtml(id: string): Promise<string> {
    const job = await this.jobs.get(id, PROBE_JOB);
    // The page formats the stored report (0..100 scale) itself.
    const view = { ...probeView(job), report: storedProbeReport(job) };
    const pngs: Buffer[] = [];
    for (const example of view.report?.examples ?? []) {
      const row = await this.probes.findExample(view.id, example.n);
      if (row) pngs[example.n] = row.png;
    }
    return renderProbeHtml(view, pngs);
  }
}
