import * as fs from 'fs';
import * as path from 'path';

/**
 * The first admin key: created at the first start of a server that has no API key at all and no
 * ADMIN_API_KEY, printed once on stderr, and kept in DATA_DIR/initial-admin-key (mode 0600) so that
 * `rir keys create` can use it while the server holds the embedded database. Revoking the key
 * deletes the file.
 */
export const INITIAL_ADMIN_KEY_NAME = 'initial-admin';
export const INITIAL_ADMIN_KEY_FILE = 'initial-admin-key';

export function initialAdminKeyPath(dataDir: string): string {
  return path.join(dataDir, INITIAL_ADMIN_KEY_FILE);
}

/** Writes the key readable and writable by its owner only; returns the file's path. */
export function writeInitialAdminKeyFile(dataDir: string, key: string): string {
  const file = initialAdminKeyPath(dataDir);
  fs.mkdirSync(dataDir, { recursive: true });
  // A file left from an earlier database is replaced, not reused: its mode could be wider.
  fs.rmSync(file, { force: true });
  fs.writeFileSync(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
  fs.chmodSync(file, 0o600);
  return file;
}

/** The key in DATA_DIR/initial-admin-key, or undefined when there is none. */
export function readInitialAdminKeyFile(dataDir: string): string | undefined {
  try {
    const key = fs.readFileSync(initialAdminKeyPath(dataDir), 'utf8').trim();
    return key === '' ? undefined : key;
  } catch {
    return undefined;
  }
}

export function removeInitialAdminKeyFile(dataDir: string): void {
  fs.rmSync(initialAdminKeyPath(dataDir), { force: true });
}

/** What the console shows once: the key, where its copy is, and how to replace it. */
export function initialAdminKeyBanner(
  created: { id: string; key: string },
  file: string | null,
): string {
  const rule = '='.repeat(78);
  return [
    rule,
    'rir: no API key existed and ADMIN_API_KEY is not set, so an admin key was created.',
    'It is shown only this once; send it as the x-api-key header:',
    '',
    `    ${created.key}`,
    '',
    file
      ? `A copy is in ${file} (readable by this user only);\n` +
        '`rir keys create` uses it to create keys through this server.'
      : 'It could not be saved to DATA_DIR: note it now.',
    'To rotate it: create a new admin key (`rir keys create --role admin --name ops`, or',
    'POST /v1/api-keys {"name":"ops","role":"admin"}), then revoke this one with the new key:',
    `DELETE /v1/api-keys/${created.id} (revoking it deletes the copy).`,
    rule,
    '',
  ].join('\n');
}
