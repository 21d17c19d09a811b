import { Column, Entity, PrimaryColumn } from 'typeorm';

/** An image of the gallery; its bytes live on disk under DATA_DIR/images/<contentSha256>. */
@Entity({ name: 'gallery_items' })
export class GalleryItem {
  /** Generated in code (crypto.randomUUID). */
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ type: 'varchar', length: 200, nullable: true })
  label!: string | null;

  @Column({ type: 'jsonb', default: () => "'{}'::jsonb" })
  metadata!: Record<string, unknown>;

  @Column({ name: 'content_sha256', type: 'char', length: 64 })
  contentSha256!: string;

  @Column({ type: 'varchar', length: 64 })
  mime!: string;

  @Column({ type: 'integer' })
  width!: number;

  @Column({ type: 'integer' })
  height!: number;

  @Column({ type: 'integer' })
  bytes!: number;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt!: Date;
}
