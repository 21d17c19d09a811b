import { randomBytes } from 'crypto';
import { promises as fs } from 'fs';
import * as path from 'path';

const HASH = /^[0-9a-f]{64}$/;
const TEMP_PREFIX = '.tmp-';

/**
 * Image bytes on disk, one file per content hash under DATA_DIR/images. Files are written to a temp
 * file, fsynced and renamed (then the directory fsynced) before the database row that names them
 * commits, so a committed row always has its file; files without a row are swept at start-up.
 */
export class ImageStore {
  constructor(readonly dir: string) {}

  pathOf(contentSha256: string): string {
    if (!HASH.test(contentSha256)) throw new Error(`not a sha256 hex digest: '${contentSha256}'`);
    return path.join(this.dir, contentSha256);
  }

  async init(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
  }

  /** Writes the bytes durably; a file already there with the same size is kept (content-addressed). */
  async write(contentSha256: string, bytes: Buffer): Promise<void> {
    if (await this.writeFile(contentSha256, bytes)) await this.syncDir();
  }

  /** temp + fsync + rename; returns false when the file was already there. */
  private async writeFile(contentSha256: string, bytes: Buffer): Promise<boolean> {
    const target = this.pathOf(contentSha256);
    const existing = await fs.stat(target).catch(() => null);
    if (existing && existing.size === bytes.length) return false;
    const temp = path.join(this.dir, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
    const handle = await fs.open(temp, 'w');
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await fs.rename(temp, target);
    } catch (error) {
      await fs.rm(temp, { force: true });
      throw error;
    }
    return true;
  }

  private async syncDir(): Promise<void> {
    const dir = await fs.open(this.dir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  /** Writes several files durably, with one directory fsync for all of them. */
  async writeMany(files: { hash: string; bytes: Buffer }[]): Promise<void> {
    const renamed = await Promise.all(files.map((file) => this.writeFile(file.hash, file.bytes)));
    if (renamed.some(Boolean)) await this.syncDir();
  }

  read(contentSha256: string): Promise<Buffer> {
    return fs.readFile(this.pathOf(contentSha256));
  }

  async remove(contentSha256: string): Promise<void> {
    await fs.rm(this.pathOf(contentSha256), { force: true });
  }

  /** Removes temp files and files no database row names (left by a crash); returns how many. */
  async sweep(keep: Set<string>): Promise<number> {
    const names = await fs.readdir(this.dir).catch(() => [] as string[]);
    const stray = names.filter(
      (name) => name.startsWith(TEMP_PREFIX) || (HASH.test(name) && !keep.has(name)),
    );
    await Promise.all(stray.map((name) => fs.rm(path.join(this.dir, name), { force: true })));
    return stray.length;
  }
}
