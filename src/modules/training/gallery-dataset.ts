import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { promises as fs } from 'fs';
import * as path from 'path';
import { DataSource } from 'typeorm';

const EXTENSION_OF: Record<string, string> = {
  'image/jpeg': '.jpg',
  'image/png': '.png',
  'image/webp': '.webp',
};

/** Classes with fewer images than this are left out (a class needs a positive pair). */
const MIN_PER_CLASS = 2;

/**
 * The gallery's labelled images as a `folder:` data set: one sub-folder per label holding hard links
 * to the stored image files (DATA_DIR/images/<sha256>), written into the job's own directory.
 */
@Injectable()
export class GalleryDataset {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** Labels with at least two images. */
  async classCount(): Promise<number> {
    const rows: { n: string }[] = await this.db.query(
      `SELECT count(*) AS n FROM (SELECT label FROM gallery_items WHERE label IS NOT NULL
         GROUP BY label HAVING count(*) >= ${MIN_PER_CLASS}) AS classes`,
    );
    return Number(rows[0]?.n ?? 0);
  }

  /** Writes the folder tree under `dir` (replacing an older one) and returns it. */
  async export(dataDir: string, dir: string): Promise<string> {
    const rows: { label: string; content_sha256: string; mime: string }[] = await this.db.query(
      `SELECT label, content_sha256, mime FROM gallery_items WHERE label IN (
         SELECT label FROM gallery_items WHERE label IS NOT NULL
          GROUP BY label HAVING count(*) >= ${MIN_PER_CLASS})
       ORDER BY label, content_sha256`,
    );
    await fs.rm(dir, { recursive: true, force: true });
    for (const row of rows) {
      // Label text becomes a folder name: keep it readable but never a path.
      const folder = path.join(dir, encodeURIComponent(row.label).replace(/^\.+/, '%2E'));
      await fs.mkdir(folder, { recursive: true });
      const file = path.join(folder, `${row.content_sha256}${EXTENSION_OF[row.mime] ?? '.img'}`);
      // Hard links (the loader lists regular files only); a copy where DATA_DIR spans devices.
      const source = path.join(dataDir, 'images', row.content_sha256);
      await fs.link(source, file).catch(() => fs.copyFile(source, file));
    }
    return dir;
  }
}
