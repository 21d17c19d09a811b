import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Background jobs (training, probes): the queue itself. Workers claim a queued row with
 * SELECT ... FOR UPDATE SKIP LOCKED, beat `heartbeat_at` while they run it, and a row whose
 * heartbeat went stale is resumed (queued again) or failed by whichever process notices first.
 */
export class CreateJobs1764100400000 implements MigrationInterface {
  name = 'CreateJobs1764100400000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE jobs (
        id uuid PRIMARY KEY,
        type varchar(64) NOT NULL,
        status varchar(16) NOT NULL DEFAULT 'queued'
          CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
        payload jsonb NOT NULL DEFAULT '{}'::jsonb,
        progress jsonb NULL,
        result jsonb NULL,
        error text NULL,
        attempts integer NOT NULL DEFAULT 0,
        max_attempts integer NOT NULL DEFAULT 3,
        cancel_requested boolean NOT NULL DEFAULT false,
        worker_id varchar(200) NULL,
        heartbeat_at timestamptz NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz NULL,
        finished_at timestamptz NULL
      )`);
    await queryRunner.query('CREATE INDEX jobs_status_created ON jobs (status, created_at)');
    await queryRunner.query('CREATE INDEX jobs_type_created ON jobs (type, created_at)');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE jobs');
  }
}
