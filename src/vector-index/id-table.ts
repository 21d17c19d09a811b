/**
 * The item id <-> hnswlib label mapping of one index, compact for UUIDs.
 *
 * Labels are dense integers handed out in insertion order. Gallery ids are UUIDs: each is kept as its 16
 * bytes in a table indexed by label, and found again through an open-addressing hash table of labels
 * (linear probing, at most 70% full): about 25 bytes per item, against ~100 for two Maps of strings
 * (bench/index-id-tables.bench.ts), which at a million items is a sixth of the raw vectors' size. Ids that are
 * not lowercase canonical UUIDs (tests, imports) go to a pair of Maps instead. Labels are never reused
 * (hnswlib's replace-deleted bookkeeping assumes so), so the by-label table grows with every insert.
 */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Char codes of '0'-'9', 'a'-'f'. */
const HEX_CODES = Array.from('0123456789abcdef', (ch) => ch.charCodeAt(0));
/** Byte positions a dash precedes in the 36-character form. */
const DASH_BEFORE = Array.from({ length: 16 }, (_, i) => i === 4 || i === 6 || i === 8 || i === 10);
const EMPTY = 0;
const TOMBSTONE = -1;
const MAX_LOAD = 0.7;

const FREE = 0;
const PACKED = 1;
const OTHER = 2;

function hexValue(code: number): number {
  return code <= 57 ? code - 48 : code - 87; // '0'-'9', 'a'-'f' (the regex admits nothing else)
}

export class IdTable {
  /** 16 bytes per label, valid where kind[label] is PACKED. */
  private bytes = new Uint8Array(16 * 1024);
  private kind = new Uint8Array(1024);
  /** label + 1 per slot; EMPTY or TOMBSTONE otherwise. */
  private slots = new Int32Array(2048);
  private occupied = 0;
  private live = 0;
  private readonly otherLabelOf = new Map<string, number>();
  private readonly otherIdOf = new Map<number, string>();
  private readonly scratch = new Uint8Array(16);
  private readonly chars = new Array<number>(36).fill(0);

  get size(): number {
    return this.live;
  }

  /** Binds a new id to an unused label. */
  set(id: string, label: number): void {
    if (!Number.isInteger(label) || label < 0 || label > 0x7ffffffe)
      throw new Error(`id table: label must be an integer in [0, 2^31 - 2], got ${label}`);
    if (label < this.kind.length && this.kind[label] !== FREE)
      throw new Error(`id table: label ${label} is already bound to ${this.idOf(label)}`);
    const packed = UUID.test(id);
    if (packed) this.parse(id, this.scratch);
    if (packed ? this.findKey(this.scratch) >= 0 : this.otherLabelOf.has(id))
      throw new Error(`id table: id ${id} is already bound`);
    this.ensureLabel(label);
    if (packed) {
      this.bytes.set(this.scratch, label * 16);
      this.kind[label] = PACKED;
      if ((this.occupied + 1) / this.slots.length > MAX_LOAD) this.rehash(this.live + 1);
      const mask = this.slots.length - 1;
      let slot = this.hash(this.scratch) & mask;
      while (this.slots[slot] > 0) slot = (slot + 1) & mask;
      if (this.slots[slot] === EMPTY) this.occupied++;
      this.slots[slot] = label + 1;
    } else {
      this.otherLabelOf.set(id, label);
      this.otherIdOf.set(label, id);
      this.kind[label] = OTHER;
    }
    this.live++;
  }

  labelOf(id: string): number | undefined {
    if (!UUID.test(id)) return this.otherLabelOf.get(id);
    const slot = this.findSlot(id);
    return slot < 0 ? undefined : this.slots[slot] - 1;
  }

  idOf(label: number): string | undefined {
    const kind = label >= 0 && label < this.kind.length ? this.kind[label] : FREE;
    if (kind === PACKED) return this.format(label);
    return kind === OTHER ? this.otherIdOf.get(label) : undefined;
  }

  /** Unbinds an id; returns its label, or undefined when it was not bound. */
  delete(id: string): number | undefined {
    if (!UUID.test(id)) {
      const label = this.otherLabelOf.get(id);
      if (label === undefined) return undefined;
      this.otherLabelOf.delete(id);
      this.otherIdOf.delete(label);
      this.kind[label] = FREE;
      this.live--;
      return label;
    }
    const slot = this.findSlot(id);
    if (slot < 0) return undefined;
    const label = this.slots[slot] - 1;
    this.slots[slot] = TOMBSTONE;
    this.kind[label] = FREE;
    this.live--;
    return label;
  }

  /** [id, label] of every bound id, in label order. */
  *entries(): IterableIterator<[string, number]> {
    for (let label = 0; label < this.kind.length; label++) {
      if (this.kind[label] !== FREE) yield [this.idOf(label)!, label];
    }
  }

  /** Bytes held by the typed arrays (the Maps of non-UUID ids not counted). */
  get packedBytes(): number {
    return this.bytes.byteLength + this.kind.byteLength + this.slots.byteLength;
  }

  private findSlot(id: string): number {
    this.parse(id, this.scratch);
    return this.findKey(this.scratch);
  }

  /** The slot holding the label of these 16 bytes, or -1. */
  private findKey(key: Uint8Array): number {
    const mask = this.slots.length - 1;
    for (let slot = this.hash(key) & mask; ; slot = (slot + 1) & mask) {
      const value = this.slots[slot];
      if (value === EMPTY) return -1;
      if (value === TOMBSTONE) continue;
      const offset = (value - 1) * 16;
      let same = true;
      for (let i = 0; i < 16 && same; i++) same = this.bytes[offset + i] === key[i];
      if (same) return slot;
    }
  }

  private ensureLabel(label: number): void {
    if (label < this.kind.length) return;
    let capacity = this.kind.length;
    while (capacity <= label) capacity *= 2;
    const kind = new Uint8Array(capacity);
    kind.set(this.kind);
    this.kind = kind;
    const bytes = new Uint8Array(capacity * 16);
    bytes.set(this.bytes);
    this.bytes = bytes;
  }

  /** A table at most half full with `count` ids (so doubling when 70% full), tombstones dropped. */
  private rehash(count: number): void {
    let capacity = 2048;
    while (count / capacity > 0.5) capacity *= 2;
    const slots = new Int32Array(capacity);
    const mask = capacity - 1;
    const key = new Uint8Array(16);
    let occupied = 0;
    for (const value of this.slots) {
      if (value <= 0) continue;
      const offset = (value - 1) * 16;
      key.set(this.bytes.subarray(offset, offset + 16));
      let slot = this.hash(key) & mask;
      while (slots[slot] !== EMPTY) slot = (slot + 1) & mask;
      slots[slot] = value;
      occupied++;
    }
    this.slots = slots;
    this.occupied = occupied;
  }

  /** FNV-1a over all 16 bytes: version-7 UUIDs start with a timestamp, so no single part is random. */
  private hash(key: Uint8Array): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < 16; i++) h = Math.imul(h ^ key[i], 0x01000193);
    return (h ^ (h >>> 15)) >>> 0;
  }

  private parse(id: string, into: Uint8Array): void {
    for (let i = 0, c = 0; i < 16; i++) {
      if (id.charCodeAt(c) === 45) c++; // '-'
      into[i] = (hexValue(id.charCodeAt(c)) << 4) | hexValue(id.charCodeAt(c + 1));
      c += 2;
    }
  }

  private format(label: number): string {
    // One flat string from 36 char codes: concatenating 20 pieces made a rope, which the first hash
    // lookup of the id (catalog, JSON) then had to flatten (~1 us per id, 3-4x the formatting).
    const offset = label * 16;
    const codes = this.chars;
    for (let i = 0, c = 0; i < 16; i++) {
      if (DASH_BEFORE[i]) codes[c++] = 45; // '-'
      const byte = this.bytes[offset + i];
      codes[c++] = HEX_CODES[byte >> 4];
      codes[c++] = HEX_CODES[byte & 15];
    }
    return String.fromCharCode.apply(null, codes);
  }
}
