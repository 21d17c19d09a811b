import { gunzipSync } from 'zlib';

/** An IDX array (the MNIST file format): unsigned bytes with their dimensions. */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/**
 * Parses an IDX file, plain or gzipped: big-endian magic (0, 0, type, number of dims), one uint32 per
 * dim, then the values. Only unsigned bytes (type 0x08), the type images and labels use, are supported.
 */
export function parseIdx(raw: Buffer, source = 'IDX data'): IdxArray {
  const bytes = raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b ? gunzipIdx(raw, source) : raw;
  if (bytes.length < 4) throw new Error(`${source}: too short to be an IDX file (${bytes.length} bytes)`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new Error(`${source}: not an IDX file (magic starts with ${bytes[0]}, ${bytes[1]}; expected 0, 0)`);
  }
  if (bytes[2] !== 0x08) {
    throw new Error(`${source}: IDX value type 0x${bytes[2].toString(16)} is not supported (expected 0x08, unsigned byte)`);
  }
  const rank = bytes[3];
  if (rank < 1 || rank > 4) throw new Error(`${source}: IDX rank ${rank} is not supported (expected 1 to 4)`);
  const headerLength = 4 + 4 * rank;
  if (bytes.length < headerLength) throw new Error(`${source}: truncated IDX header`);
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(bytes.readUInt32BE(4 + 4 * i));
  const expected = dims.reduce((a, b) => a * b, 1);
  const actual = bytes.length - headerLength;
  if (actual !== expected) {
    throw new Error(`${source}: IDX dims [${dims.join(', ')}] need ${expected} values but the file holds ${actual}`);
  }
  return { dims, data: new Uint8Array(bytes.buffer, bytes.byteOffset + headerLength, expected) };
}

function gunzipIdx(raw: Buffer, source: string): Buffer {
  try {
    return gunzipSync(raw);
  } catch (error) {
    throw new Error(`${source}: cannot gunzip: ${(error as Error).message}`);
  }
}

/** Images [N, H, W] (or [N, H, W, C]) and labels [N] from two IDX files, checked against each other. */
export function idxToImageSet(
  images: IdxArray,
  labels: IdxArray,
): { pixels: Uint8Array; labels: Int32Array; shape: [number, number, number] } {
  if (images.dims.length !== 3 && images.dims.length !== 4) {
    throw new Error(`IDX images must have 3 or 4 dims [N, H, W(, C)], got [${images.dims.join(', ')}]`);
  }
  if (labels.dims.length !== 1) throw new Error(`IDX labels must have 1 dim [N], got [${labels.dims.join(', ')}]`);
  if (images.dims[0] !== labels.dims[0]) {
    throw new Error(`IDX images hold ${images.dims[0]} items but labels hold ${labels.dims[0]}`);
  }
  const [, height, width] = images.dims;
  const channels = images.dims[3] ?? 1;
  return { pixels: images.data, labels: Int32Array.from(labels.data), shape: [height, width, channels] };
}
