import { Column, Entity, PrimaryColumn } from 'typeorm';

/** The embedding of one gallery item under one model version: the source the HNSW index is built from. */
@Entity({ name: 'embeddings' })
export class EmbeddingRow {
  @PrimaryColumn({ name: 'model_id', type: 'varchar', length: 128 })
  modelId!: string;

  @PrimaryColumn({ name: 'item_id', type: 'uuid' })
  itemId!: string;

  @Column({ type: 'real', array: true })
  vector!: number[];
}
