import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { ProbeExampleRow } from './probe-example.entity';

export interface LabelledGalleryRow {
  id: string;
  label: string;
  contentSha256: string;
}

/** Probe examples, and the read-only view of the gallery a probe samples from. */
@Injectable()
export class ProbesRepository {
  constructor(
    @InjectRepository(ProbeExampleRow) private readonly examples: Repository<ProbeExampleRow>,
  ) {}

  /** Replaces the examples of a probe (a re-run after a restart writes them again). */
  async saveExamples(
    probeId: string,
    rows: { n: number; png: Buffer; width: number; height: number }[],
  ): Promise<void> {
    await this.examples.delete({ probeId });
    for (const row of rows) await this.examples.insert({ probeId, ...row });
  }

  findExample(probeId: string, n: number): Promise<ProbeExampleRow | null> {
    return this.examples.findOne({ where: { probeId, n } });
  }

  async countLabelledGalleryItems(): Promise<number> {
    const rows: { n: string | number }[] = await this.examples.query(
      'SELECT count(*) AS n FROM gallery_items WHERE label IS NOT NULL',
    );
    return Number(rows[0].n);
  }

  /** Every labelled gallery item, in id order (the probe's seeded sample is drawn from this list). */
  async labelledGalleryItems(): Promise<LabelledGalleryRow[]> {
    const rows: { id: string; label: string; content_sha256: string }[] = await this.examples.query(
      'SELECT id, label, content_sha256 FROM gallery_items WHERE label IS NOT NULL ORDER BY id',
    );
    return rows.map((row) => ({ id: row.id, label: row.label, contentSha256: row.content_sha256 }));
  }
}
