import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Model versions (registered from model directories), gallery items, and one embedding per item per
 * model. PostgreSQL holds every embedding, so a model's HNSW index can always be rebuilt from here.
 */
export class CreateGalleryAndModels1764100200000 implements MigrationInterface {
  name = 'CreateGalleryAndModels1764100200000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE models (
        id varchar(128) PRIMARY KEY,
        directory text NOT NULL,
        manifest jsonb NOT NULL,
        embedding_dim integer NOT NULL CHECK (embedding_dim > 0),
        status varchar(16) NOT NULL DEFAULT 'registered'
          CHECK (status IN ('registered', 'deploying', 'deployed', 'retired', 'failed')),
        active boolean NOT NULL DEFAULT false,
        deploy_progress jsonb NULL,
        deploy_error text NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        deployed_at timestamptz NULL
      )`);
    // At most one model serves searches at a time.
    await queryRunner.query(
      'CREATE UNIQUE INDEX models_single_active ON models (active) WHERE active',
    );
    await queryRunner.query(`
      CREATE TABLE gallery_items (
        id uuid PRIMARY KEY,
        label varchar(200) NULL,
        metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
        content_sha256 char(64) NOT NULL UNIQUE,
        mime varchar(64) NOT NULL,
        width integer NOT NULL,
        height integer NOT NULL,
        bytes integer NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query('CREATE INDEX gallery_items_label ON gallery_items (label)');
    await queryRunner.query('CREATE INDEX gallery_items_created ON gallery_items (created_at, id)');
    await queryRunner.query(`
      CREATE TABLE embeddings (
        model_id varchar(128) NOT NULL REFERENCES models (id) ON DELETE CASCADE,
        item_id uuid NOT NULL REFERENCES gallery_items (id) ON DELETE CASCADE,
        vector real[] NOT NULL,
        PRIMARY KEY (model_id, item_id)
      )`);
    await queryRunner.query('CREATE INDEX embeddings_item ON embeddings (item_id)');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE embeddings');
    await queryRunner.query('DROP TABLE gallery_items');
    await queryRunner.query('DROP TABLE models');
  }
}
