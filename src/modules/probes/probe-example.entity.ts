import { Column, Entity, PrimaryColumn } from 'typeorm';

/** One kept example of a probe, as a composed PNG. */
@Entity({ name: 'probe_examples' })
export class ProbeExampleRow {
  @PrimaryColumn({ name: 'probe_id', type: 'uuid' })
  probeId!: string;

  @PrimaryColumn({ type: 'integer' })
  n!: number;

  @Column({ type: 'bytea' })
  png!: Buffer;

  @Column({ type: 'integer' })
  width!: number;

  @Column({ type: 'integer' })
  height!: number;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt!: Date;
}
