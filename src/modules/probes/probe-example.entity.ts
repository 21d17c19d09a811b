import { Column, Entity, PrimaryColumn, ValueTransformer } from 'typeorm';

/**
 * bytea comes back as a Buffer from PostgreSQL (pg) but as a plain Uint8Array from embedded PGlite,
 * whose toString() lists the byte values: read it as a Buffer on both (a view, no copy).
 */
export const BYTEA_AS_BUFFER: ValueTransformer = {
  to: (value: Buffer | null | undefined) => value,
  from: (value: Uint8Array | null | undefined) =>
    value == null || Buffer.isBuffer(value)
      ? value
      : Buffer.from(value.buffer, value.byteOffset, value.byteLength),
};

/** One kept example of a probe, as a composed PNG. */
@Entity({ name: 'probe_examples' })
export class ProbeExampleRow {
  @PrimaryColumn({ name: 'probe_id', type: 'uuid' })
  probeId!: string;

  @PrimaryColumn({ type: 'integer' })
  n!: number;

  @Column({ type: 'bytea', transformer: BYTEA_AS_BUFFER })
  png!: Buffer;

  @Column({ type: 'integer' })
  width!: number;

  @Column({ type: 'integer' })
  height!: number;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt!: Date;
}
