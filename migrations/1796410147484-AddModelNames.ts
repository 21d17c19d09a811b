import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Model versions get a readable, unique name beside their id (the id stays the directory name and the
 * key every other table and route uses). Rows registered before keep working: their name is their id.
 */
export class AddModelNames1796410147484 implements MigrationInterface {
  name = 'AddModelNames1796410147484';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE models ADD COLUMN name varchar(128) NULL');
    await queryRunner.query('UPDATE models SET name = id');
    await queryRunner.query('ALTER TABLE models ALTER COLUMN name SET NOT NULL');
    await queryRunner.query('CREATE UNIQUE INDEX models_name_key ON models (name)');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX models_name_key');
    await queryRunner.query('ALTER TABLE models DROP COLUMN name');
  }
}
