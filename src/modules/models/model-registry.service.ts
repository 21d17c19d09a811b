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
import { validateRobustnessBlock, type RobustnessBlock } from '../../ml/model-store';
import {
  manifestInFractions,
  percentToFraction,
  scaleRobustnessBlock,
} from '../../ml/robustness/units';
import { ModelVersion } from './model.entity';
import { ModelsRepository } from './models.repository';

/**
 * The models committed with the code (one directory each, registered under its name): `default`, which
 * a fresh install deploys so it can search at once, and others an admin may deploy to compare
 * (`natural`). BUNDLED_MODELS_DIR in the environment points elsewhere.
 */
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
  /** The manifest's robustness block (validated at registration); null: not measured. */
  robustness: RobustnessBlock | null;
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
    // Stored on the suite's 0..100 scale; the API gives rates as fractions.
    manifest: manifestInFractions(model.manifest),
    robustness: model.manifest.robustness
      ? scaleRobustnessBlock(model.manifest.robustness as RobustnessBlock, percentToFraction)
      : null,
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
 * A model directory's manifest.json, checked for what registering needs: JSON, an embedding dimension,
 * and a well-formed robustness block measured on these weights when there is one. Errors name the file.
 */
export async function readRegistrableManifest(
  directory: string,
): Promise<{ manifest: Record<string, unknown>; embeddingDim: number }> {
  const file = path.join(directory, 'manifest.json');
  let manifest: unknown;
  try {
    manifest = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (error) {
    throw new Error(`cannot read ${file}: ${(error as Error).message}`);
  }
  if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest))
    throw new Error(`${file} is not a JSON object`);
  const record = manifest as Record<string, unknown>;
  if (record.robustness !== undefined)
    validateRobustnessBlock(
      record.robustness,
      typeof record.weightsSha256 === 'string' ? record.weightsSha256 : undefined,
      file,
    );
  try {
    return { manifest: record, embeddingDim: embeddingDimOf(record) };
  } catch (error) {
    throw new Error(`${file}: ${(error as Error).message}`);
  }
}

/** JSON with object keys sorted at every level: equal for equal content whatever the key order. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  );
}

/** A registered model whose directory changed on disk since it was registered. */
export interface RegistrationChange {
  id: string;
  directory: string;
  /** The weights hash the registration had, and the one on disk now. */
  previousWeightsSha256: string | null;
  weightsSha256: string | null;
  /** New weights: embeddings and indexes built with the old ones are stale. */
  weightsChanged: boolean;
}

const weightsShaOf = (manifest: Record<string, unknown>): string | null =>
  typeof manifest.weightsSha256 === 'string' ? manifest.weightsSha256 : null;

/**
 * Model versions are directories (tfjs files + manifest.json) under DATA_DIR/models, plus the bundled
 * ones (BUNDLED_MODELS_DIR/*); each is registered in the models table under its directory name. A
 * bundled name wins over a DATA_DIR/models directory of the same name.
 */
@Injectable()
export class ModelRegistryService {
  private readonly logger = new Logger(ModelRegistryService.name);
  readonly modelsDir: string;
  readonly bundledDir: string;
  /** Directories scan() could not register, by id, with the reason (logged once, named in 404s). */
  private readonly skipped = new Map<string, string>();

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly models: ModelsRepository,
  ) {
    this.modelsDir = path.join(config.dataDir, 'models');
    this.bundledDir = config.bundledModelsDir ?? BUNDLED_MODELS_DIR;
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
    const { manifest, embeddingDim } = await readRegistrableManifest(directory);
    const registered = await this.models.register({
      id,
      name,
      directory: path.resolve(directory),
      manifest,
      embeddingDim,
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

  /** The bundled model directories (those with a manifest.json and a usable id), by id. */
  async bundledModels(): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    const entries = await fs.readdir(this.bundledDir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const dir = path.join(this.bundledDir, entry.name);
      if (entry.isDirectory() && MODEL_ID_PATTERN.test(entry.name) && (await hasManifest(dir)))
        found.set(entry.name, dir);
    }
    return found;
  }

  /**
   * Registers every model directory not registered yet: the bundled ones and DATA_DIR/models/*. A
   * directory that cannot be registered (malformed manifest, say) is skipped with a warning, once.
   */
  async scan(): Promise<void> {
    const bundled = await this.bundledModels();
    const candidates = [...bundled].map(([id, dir]) => ({ dir, id }));
    const entries = await fs.readdir(this.modelsDir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (entry.isDirectory() && !bundled.has(entry.name))
        candidates.push({ dir: path.join(this.modelsDir, entry.name), id: entry.name });
    }
    const known = new Set((await this.models.list()).map((model) => model.id));
    for (const { dir, id } of candidates) {
      if (known.has(id) || !MODEL_ID_PATTERN.test(id) || !(await hasManifest(dir))) continue;
      try {
        await this.registerDirectory(dir, id);
        this.skipped.delete(id);
        this.logger.log(`registered model ${id} from ${dir}`);
      } catch (error) {
        const reason = (error as Error).message;
        if (this.skipped.get(id) !== reason)
          this.logger.warn(`skipped model directory ${dir}: ${reason}`);
        this.skipped.set(id, reason);
      }
    }
  }

  /**
   * At start-up: brings each registration in line with its directory. A bundled model follows the
   * bundled directory (an upgrade may ship new weights or figures, or live elsewhere); any model whose
   * manifest.json changed (new weights, a robustness block written by `rir attack --write-manifest`)
   * gets the new manifest. Returns what changed; `weightsChanged` ones must not keep serving embeddings
   * of the old weights (the caller drops them and re-deploys). A directory that is gone or whose new
   * manifest is malformed keeps its registration, with a warning.
   */
  async refreshRegistrations(): Promise<RegistrationChange[]> {
    const bundled = await this.bundledModels();
    const changes: RegistrationChange[] = [];
    for (const model of await this.models.list()) {
      // DATA_DIR/models/<id> registered before a bundled model of that name existed stays itself.
      const own = path.dirname(path.resolve(model.directory)) === path.resolve(this.modelsDir);
      const directory = !own && bundled.has(model.id) ? bundled.get(model.id)! : model.directory;
      if (!(await hasManifest(directory))) continue;
      let read: { manifest: Record<string, unknown>; embeddingDim: number };
      try {
        read = await readRegistrableManifest(directory);
      } catch (error) {
        this.logger.warn(
          `model ${model.id}: keeping its registration, ${(error as Error).message}`,
        );
        continue;
      }
      const sameManifest = canonicalJson(read.manifest) === canonicalJson(model.manifest);
      if (sameManifest && directory === model.directory && read.embeddingDim === model.embeddingDim)
        continue;
      await this.models.updateRegistration(model.id, {
        directory: path.resolve(directory),
        manifest: read.manifest,
        embeddingDim: read.embeddingDim,
      });
      const change: RegistrationChange = {
        id: model.id,
        directory: path.resolve(directory),
        previousWeightsSha256: weightsShaOf(model.manifest),
        weightsSha256: weightsShaOf(read.manifest),
        weightsChanged: weightsShaOf(model.manifest) !== weightsShaOf(read.manifest),
      };
      changes.push(change);
      if (change.weightsChanged)
        this.logger.warn(
          `model ${model.id}: its weights changed since it was registered (sha256 ` +
            `${change.previousWeightsSha256 ?? 'none'} -> ${change.weightsSha256 ?? 'none'}, ${directory}): registration updated`,
        );
      else
        this.logger.log(
          `model ${model.id}: ${sameManifest ? 'moved' : 'manifest.json changed'} (same weights), registration updated from ${directory}`,
        );
    }
    return changes;
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
    if (!model) {
      const reason = this.skipped.get(id);
      throw new NotFoundException(
        reason
          ? `No model with id ${id}: its directory was not registered (${reason})`
          : `No model with id ${id}`,
      );
    }
    return model;
  }
}

async function hasManifest(dir: string): Promise<boolean> {
  return fs.stat(path.join(dir, 'manifest.json')).then(
    () => true,
    () => false,
  );
}
