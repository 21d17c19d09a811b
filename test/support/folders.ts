/** Temporary folders for specs, removed with their contents once the spec file's tests are done. */
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';

/**
 * Registers hooks that make one temporary folder before the file's tests and remove it after them.
 * Read `.path` inside a test or hook.
 */
export function temporaryFolder(prefix: string): { readonly path: string } {
  const folder = { path: '' };
  beforeAll(async () => {
    folder.path = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  });
  afterAll(async () => {
    if (folder.path) await fs.rm(folder.path, { recursive: true, force: true });
  });
  return folder;
}

/** A maker of fresh temporary folders, one a call; all of them are removed after the file's tests. */
export function temporaryFolders(prefix: string): () => Promise<string> {
  const made: string[] = [];
  afterAll(async () => {
    await Promise.all(made.map((dir) => fs.rm(dir, { recursive: true, force: true })));
  });
  return async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
    made.push(dir);
    return dir;
  };
}
