import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DataSource } from 'typeorm';
import { seedPGliteDir } from '../../test/utils/pglite-template';
import { createPGliteDriver } from './pglite-pool';

describe('PGlite pool for TypeORM', () => {
  let dir: string;
  let db: DataSource;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rir-pool-'));
    await seedPGliteDir(path.join(dir, 'pglite'));
    db = await new DataSource({
      type: 'postgres',
      driver: createPGliteDriver(path.join(dir, 'pglite')),
      installExtensions: false,
    }).initialize();
    await db.query('CREATE TABLE items (name text PRIMARY KEY, at timestamptz)');
  });
  afterAll(async () => {
    await db?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => db.query('DELETE FROM items'));

  const names = async () =>
    ((await db.query('SELECT name FROM items ORDER BY name')) as { name: string }[]).map(
      (r) => r.name,
    );
  const pause = () => new Promise((resolve) => setTimeout(resolve, 20));

  it('keeps concurrent transactions apart: a rollback never takes a neighbour down with it', async () => {
    const failing = db
      .transaction(async (manager) => {
        await manager.query("INSERT INTO items (name) VALUES ('a')");
        await pause();
        throw new Error('abort a');
      })
      .catch((error: Error) => error.message);
    const committing = db.transaction(async (manager) => {
      await manager.query("INSERT INTO items (name) VALUES ('b')");
      await pause();
    });
    expect(await Promise.all([failing, committing])).toEqual(['abort a', undefined]);
    expect(await names()).toEqual(['b']);
  });

  it('lets a plain query run while a transaction is open (no deadlock)', async () => {
    await db.transaction(async (manager) => {
      await manager.query("INSERT INTO items (name) VALUES ('c')");
      expect(await db.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    });
    expect(await names()).toEqual(['c']);
  });

  it('reports affected rows and accepts Date parameters', async () => {
    await db.query("INSERT INTO items (name) VALUES ('d'), ('e')");
    const when = new Date('2026-01-02T03:04:05.000Z');
    const result = await db
      .createQueryBuilder()
      .update('items')
      .set({ at: when })
      .where('name IN (:...names)', { names: ['d', 'e'] })
      .execute();
    expect(result.affected).toBe(2);
    const rows = (await db.query('SELECT at FROM items')) as { at: Date }[];
    expect(rows.map((r) => new Date(r.at).toISOString())).toEqual([
      when.toISOString(),
      when.toISOString(),
    ]);
  });

  it('reports a SQL error as a rejected query, and keeps working', async () => {
    await expect(db.query('SELECT * FROM no_such_table')).rejects.toThrow(/no_such_table/);
    expect(await names()).toEqual([]);
  });
});
