import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { DeployProgress, ModelStatus, ModelVersion } from './model.entity';

@Injectable()
export class ModelsRepository {
  constructor(@InjectRepository(ModelVersion) private readonly repo: Repository<ModelVersion>) {}

  findById(id: string): Promise<ModelVersion | null> {
    return this.repo.findOne({ where: { id } });
  }

  list(): Promise<ModelVersion[]> {
    return this.repo.find({ order: { createdAt: 'ASC', id: 'ASC' } });
  }

  findActive(): Promise<ModelVersion | null> {
    return this.repo.findOne({ where: { active: true } });
  }

  findByStatus(status: ModelStatus): Promise<ModelVersion[]> {
    return this.repo.find({ where: { status } });
  }

  /** Registers a model directory; an already registered id keeps its status. */
  async register(
    model: Pick<ModelVersion, 'id' | 'directory' | 'manifest' | 'embeddingDim'>,
  ): Promise<void> {
    await this.repo.query(
      `INSERT INTO models (id, directory, manifest, embedding_dim) VALUES ($1, $2, $3::jsonb, $4)
       ON CONFLICT (id) DO NOTHING`,
      [model.id, model.directory, JSON.stringify(model.manifest), model.embeddingDim],
    );
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
