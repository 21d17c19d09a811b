import { randomUUID } from 'crypto';
import { IdTable } from './id-table';

/** Time-ordered ids (UUID version 7 layout): long shared prefixes stress the hash. */
function sequentialUuid(i: number): string {
  const hex = i.toString(16).padStart(20, '0');
  return `0190a1b2-c3d4-7${hex.slice(0, 3)}-8${hex.slice(3, 6)}-${hex.slice(8, 20)}`;
}

describe('IdTable', () => {
  it('maps UUIDs and other ids both ways, and forgets deleted ones', () => {
    const table = new IdTable();
    const uuid = randomUUID();
    table.set(uuid, 0);
    table.set('item-1', 1);
    table.set('A0000000-0000-4000-8000-000000000000', 2); // upper case: kept as given, in the Maps
    expect(table.size).toBe(3);
    expect(table.labelOf(uuid)).toBe(0);
    expect(table.idOf(0)).toBe(uuid);
    expect(table.labelOf('item-1')).toBe(1);
    expect(table.idOf(2)).toBe('A0000000-0000-4000-8000-000000000000');
    expect(table.labelOf('a0000000-0000-4000-8000-000000000000')).toBeUndefined();
    expect(table.delete(uuid)).toBe(0);
    expect(table.delete(uuid)).toBeUndefined();
    expect(table.labelOf(uuid)).toBeUndefined();
    expect(table.idOf(0)).toBeUndefined();
    expect(table.delete('item-1')).toBe(1);
    expect([...table.entries()]).toEqual([['A0000000-0000-4000-8000-000000000000', 2]]);
    expect(table.size).toBe(1);
  });

  it('keeps 100,000 random and time-ordered UUIDs through growth, deletes and re-inserts', () => {
    const table = new IdTable();
    const ids = Array.from({ length: 50_000 }, (): string => randomUUID()).concat(
      Array.from({ length: 50_000 }, (_, i) => sequentialUuid(i)),
    );
    ids.forEach((id, label) => table.set(id, label));
    // 17 bytes per label (capacity doubles: 131,072 here) plus 4 per hash slot (at most 70% full).
    expect(table.packedBytes / ids.length).toBeLessThan(40);
    // Delete every third id, then bind them again under new labels (labels are never reused).
    ids.forEach((id, label) => {
      if (label % 3 === 0 && table.delete(id) !== label) throw new Error(`delete ${id}`);
    });
    ids.forEach((id, label) => {
      if (label % 3 === 0) table.set(id, ids.length + label);
    });
    expect(table.size).toBe(ids.length);
    ids.forEach((id, label) => {
      const expected = label % 3 === 0 ? ids.length + label : label;
      if (table.labelOf(id) !== expected || table.idOf(expected) !== id)
        throw new Error(`${id}: label ${table.labelOf(id)}, expected ${expected}`);
    });
    expect(table.labelOf(randomUUID())).toBeUndefined();
  });

  it('refuses to bind a label or an id twice, naming them', () => {
    const table = new IdTable();
    const uuid = randomUUID();
    table.set(uuid, 5);
    expect(() => table.set(randomUUID(), 5)).toThrow(`label 5 is already bound to ${uuid}`);
    expect(() => table.set(uuid, 6)).toThrow(`id ${uuid} is already bound`);
    expect(() => table.set('x', -1)).toThrow('label must be an integer');
  });
});
