import { Column, Entity, PrimaryColumn } from 'typeorm';

export const MODEL_STATUSES = ['registered', 'deploying', 'deployed', 'retired', 'failed'] as const;
export type ModelStatus = (typeof MODEL_STATUSES)[number];

export interface DeployProgress {
  embedded: number;
  total: number;
  startedAt: string;
  finishedAt?: string;
}

/** A model version registered from a model directory (tfjs files + manifest.json). */
@Entity({ name: 'models' })
export class ModelVersion {
  @PrimaryColumn({ type: 'varchar', length: 128 })
  id!: string;

  /** Readable and unique; may be changed (the id may not). Registered directories start with their id. */
  @Column({ type: 'varchar', length: 128 })
  name!: string;

  @Column({ type: 'text' })
  directory!: string;

  @Column({ type: 'jsonb' })
  manifest!: Record<string, unknown>;

  @Column({ name: 'embedding_dim', type: 'integer' })
  embeddingDim!: number;

  @Column({ type: 'varchar', length: 16, default: 'registered' })
  status!: ModelStatus;

  /** The model that serves searches; at most one row has it (a partial unique index). */
  @Column({ type: 'boolean', default: false })
  active!: boolean;

  @Column({ name: 'deploy_progress', type: 'jsonb', nullable: true })
  deployProgress!: DeployProgress | null;

  @Column({ name: 'deploy_error', type: 'text', nullable: true })
  deployError!: string | null;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt!: Date;

  @Column({ name: 'deployed_at', type: 'timestamptz', nullable: true })
  deployedAt!: Date | null;
}
