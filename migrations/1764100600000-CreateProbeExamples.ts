import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Security probes run as jobs of type 'probe' (their report is the job's result); the worst examples
 * they keep are PNGs (original | adversarial | amplified perturbation), one row per example.
 */
export class CreateProbeExamples1764100600000 implements MigrationInterface {
  name = 'CreateProbeExamples1764100600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE probe_examples (
        probe_id uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        n integer NOT NULL CHECK (n >= 0),
        png bytea NOT NULL,
        width integer NOT NULL,
        height integer NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (probe_id, n)
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE probe_examples');
  }
}
