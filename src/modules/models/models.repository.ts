import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { numberedName } from './model-name';
import { DeployProgress, ModelStatus, ModelVersion } from './model.entity';

/** How far `name-2`, `name-3`, ... go before registering gives up. */
const MAX_NUMBERED = 1000;

/** PostgreSQL's unique_violation (typeorm's QueryFailedError carries the driver's code). */
function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string; driverError?: { code?: string } };
  return (e?.code ?? e?.driverError?.code) === '23505';
}

@Injectable()
export class ModelsRepository {
  constructor(@InjectRepository(ModelVersion) private readonly repo: Repository<ModelVersion>) {}

  findById(id: string): Promise<ModelVersion | null> {
    return this.repo.findOne({ where: { id } });
  }

  list(): Promise<ModelVersion[]> {
    return this.repo.find({ order: { createdAt: 'ASC', id: 'ASC' } });
  }

  findByName(name: string): Promise<ModelVersion | null> {
    return this.repo.findOne({ where: { name } });
  }

  findActive(): Promise<ModelVersion | null> {
    return this.repo.findOne({ where: { active: true } });
  }

  findByStatus(status: ModelStatus): Promise<ModelVersion[]> {
    return this.repo.find({ where: { status } });
  }

  /**
   * Registers a model directory under `name`, or `name-2`, `name-3`, ... when another model has it.
   * An already registered id keeps its row (status, name). Returns the registered row's name.
   */
  async register(
    model: Pick<ModelVersion, 'id' | 'name' | 'directory' | 'manifest' | 'embeddingDim'>,
  ): Promise<string> {
    for (let n = 1; n <= MAX_NUMBERED; n++) {
      const name = numberedName(model.name, n);
      // No conflict target: a taken id and a taken name both insert nothing.
      const inserted: unknown[] = await this.repo.query(
        `INSERT INTO models (id, name, directory, manifest, embedding_dim)
         VALUES ($1, $2, $3, $4::jsonb, $5) ON CONFLICT DO NOTHING RETURNING id`,
        [model.id, name, model.directory, JSON.stringify(model.manifest), model.embeddingDim],
      );
      if (inserted.length > 0) return name;
      const existing = await this.findById(model.id);
      if (existing) return existing.name;
    }
    throw new Error(`model ${model.id}: '${model.name}' and ${MAX_NUMBERED - 1} numbered names are taken`);
  }

  /** Points a registration at its directory's current manifest (the id, name and status stay). */
  async updateRegistration(
    id: string,
    registration: Pick<ModelVersion, 'directory' | 'manifest' | 'embeddingDim'>,
  ): Promise<void> {
    await this.repo.query(
      `UPDATE models SET directory = $2, manifest = $3::jsonb, embedding_dim = $4 WHERE id = $1`,
      [id, registration.directory, JSON.stringify(registration.manifest), registration.embeddingDim],
    );
  }

  /** Gives a model a new name: 'renamed', 'missing' (no such id) or 'taken' (another model has it). */
  async rename(id: string, name: string): Promise<'renamed' | 'missing' | 'taken'> {
    const holder = await this.findByName(name);
    if (holder) return holder.id === id ? 'renamed' : 'taken';
    try {
      const result = await this.repo.update({ id }, { name });
      return result.affected ? 'renamed' : 'missing';
    } catch (error) {
      // Another request took the name between the look-up and the update.
      if (isUniqueViolation(error)) return 'taken';
      throw error;
    }
  }

  async setStatus(
    id: string,
    status: ModelStatus,
    deployError: string | null = null,
  ): Promise<void> {
    await this.repo.update({ id }, { status, deployError });
  }

  async setProgress(id: string, progress: DeployProgress): Promise<void> {
    await this.repo.update({ id }, { deployProgress: progress });
  }

  /** Makes `id` the active model and retires the previous one, in one transaction. */
  async activate(id: string): Promise<void> {
    await this.repo.manager.transaction(async (manager) => {
      await manager.query(
        `UPDATE models SET active = false, status = 'retired' WHERE active AND id <> $1`,
        [id],
      );
      await manager.query(
        `UPDATE models SET active = true, status = 'deployed', deployed_at = now(), deploy_error = NULL WHERE id = $1`,
        [id],
      );
    });
  }
}
