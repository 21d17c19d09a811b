import {
  ConflictException,
  Inject,
  Injectable,
  Logger,
  NotFoundException,
} from '@nestjs/common';
import { promises as fs } from 'fs';
import * as path from 'path';
import { packageRoot } from '../../common/package-root';
import { APP_CONFIG, AppConfig } from '../../config';
import { ModelVersion } from './model.entity';
import { ModelsRepository } from './models.repository';

/** The model committed with the code, so a fresh install can search at once. */
export const BUNDLED_MODELS_DIR = path.join(packageRoot(__dirname), 'models');
export const DEFAULT_MODEL_ID = 'default';

export const MODEL_ID_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;

export interface ModelView {
  id: string;
  /** Readable and unique; an admin may change it (the id stays). */
  name: string;
  status: string;
  active: boolean;
  embeddingDim: number;
  directory: string;
  manifest: Record<string, unknown>;
  deployProgress: ModelVersion['deployProgress'];
  deployError: string | null;
  createdAt: string;
  deployedAt: string | null;
}

export function toModelView(model: ModelVersion): ModelView {
  return {
    id: model.id,
    name: model.name,
    status: model.status,
    active: model.active,
    embeddingDim: model.embeddingDim,
    directory: model.directory,
    manifest: model.manifest,
    deployProgress: model.deployProgress,
    deployError: model.deployError,
    createdAt: new Date(model.createdAt).toISOString(),
    deployedAt: model.deployedAt ? new Date(model.deployedAt).toISOString() : null,
  };
}

/** Reads the embedding dimension from a manifest (top level, or under `spec` as the ML core writes it). */
export function embeddingDimOf(manifest: Record<string, unknown>): number {
  const spec = (manifest.spec ?? manifest.model ?? {}) as Record<string, unknown>;
  const dim = manifest.embeddingDim ?? spec.embeddingDim;
  if (typeof dim !== 'number' || !Number.isInteger(dim) || dim <= 0) {
    throw new Error('manifest.json has no positive integer embeddingDim');
  }
  return dim;
}

/**
 * Model versions are directories (tfjs files + manifest.json) under DATA_DIR/models, plus the bundled
 * default model; each is registered in the models table under its directory name.
 */
@Injectable()
export class ModelRegistryService {
  private readonly logger = new Logger(ModelRegistryService.name);
  readonly modelsDir: string;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly models: ModelsRepository,
  ) {
    this.modelsDir = path.join(config.dataDir, 'models');
  }

  /**
   * Registers a model directory (idempotent) under `name` (default: the id), numbered `name-2`, ...
   * when another model has that name. Returns the id and the name the model has. Training jobs call
   * this for new versions.
   */
  async registerDirectory(
    directory: string,
    id = path.basename(directory),
    name = id,
  ): Promise<{ id: string; name: string }> {
    if (!MODEL_ID_PATTERN.test(id))
      throw new Error(`model id '${id}' must match ${MODEL_ID_PATTERN}`);
    const file = path.join(directory, 'manifest.json');
    const manifest = JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, unknown>;
    const registered = await this.models.register({
      id,
      name,
      directory: path.resolve(directory),
      manifest,
      embeddingDim: embeddingDimOf(manifest),
    });
    return { id, name: registered };
  }

  /** Whether a model has this name (a training request asking for it is refused). */
  async nameTaken(name: string): Promise<boolean> {
    return (await this.models.findByName(name)) !== null;
  }

  /** Renames a model: 404 for an unknown id, 409 when another model has the name. */
  async rename(id: string, name: string): Promise<ModelVersion> {
    await this.get(id);
    const outcome = await this.models.rename(id, name);
    if (outcome === 'taken')
      throw new ConflictException(`another model is already named '${name}'`);
    if (outcome === 'missing') throw new NotFoundException(`No model with id ${id}`);
    return this.get(id);
  }

  /** Registers every model directory not registered yet: the bundled default and DATA_DIR/models/*. */
  async scan(): Promise<void> {
    const candidates: { dir: string; id: string }[] = [
      { dir: path.join(BUNDLED_MODELS_DIR, DEFAULT_MODEL_ID), id: DEFAULT_MODEL_ID },
    ];
    const entries = await fs.readdir(this.modelsDir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (entry.isDirectory() && entry.name !== DEFAULT_MODEL_ID)
        candidates.push({ dir: path.join(this.modelsDir, entry.name), id: entry.name });
    }
    const known = new Set((await this.models.list()).map((model) => model.id));
    for (const { dir, id } of candidates) {
      if (known.has(id) || !MODEL_ID_PATTERN.test(id)) continue;
      const hasManifest = await fs.stat(path.join(dir, 'manifest.json')).then(
        () => true,
        () => false,
      );
      if (!hasManifest) continue;
      try {
        await this.registerDirectory(dir, id);
        this.logger.log(`registered model ${id} from ${dir}`);
      } catch (error) {
        this.logger.warn(`skipped model directory ${dir}: ${(error as Error).message}`);
      }
    }
  }

  async list(): Promise<ModelView[]> {
    await this.scan();
    return (await this.models.list()).map(toModelView);
  }

  async get(id: string): Promise<ModelVersion> {
    let model = await this.models.findById(id);
    if (!model) {
      await this.scan();
      model = await this.models.findById(id);
    }
    if (!model) throw new NotFoundException(`No model with id ${id}`);
    return model;
  }
}
