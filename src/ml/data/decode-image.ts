import sharp from 'sharp';

export interface DecodeOptions {
  height: number;
  width: number;
  /** 1 = grey, 3 = RGB. */
  channels: 1 | 3;
  /**
   * How the image is fitted to height x width: 'contain' (letterbox on white, keeps the aspect ratio),
   * 'cover' (centre crop) or 'fill' (stretch). Default 'contain'.
   */
  fit?: 'contain' | 'cover' | 'fill';
}

/**
 * Decodes an encoded image (JPEG, PNG, WebP, GIF, TIFF, SVG, ...) into HWC float32 pixels in [0,1].
 * The one decoder used for training, evaluation and serving: two decoders give different pixels.
 * Transparency is flattened onto white; resizing uses sharp's deterministic lanczos3 kernel.
 */
export async function decodeImage(buffer: Buffer | Uint8Array, options: DecodeOptions): Promise<Float32Array> {
  const { height, width, channels } = options;
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) {
    throw new Error(`image size must be positive integers (got ${height}x${width})`);
  }
  if (channels !== 1 && channels !== 3) throw new Error(`channels must be 1 or 3 (got ${String(channels)})`);
  if (!buffer || buffer.length === 0) throw new Error('cannot decode image: the file is empty');
  const fit = options.fit ?? 'contain';
  let pipeline = sharp(buffer, { failOn: 'truncated' })
    .rotate() // honour EXIF orientation so a phone photo looks the same everywhere
    .flatten({ background: '#ffffff' })
    .resize(width, height, { fit, background: '#ffffff', kernel: 'lanczos3' });
  pipeline = channels === 1 ? pipeline.grayscale() : pipeline.toColourspace('srgb');
  const { data, info } = await pipeline
    .raw()
    .toBuffer({ resolveWithObject: true })
    .catch((error: Error) => {
      throw new Error(`cannot decode image: ${error.message}`);
    });
  if (info.width !== width || info.height !== height || info.channels !== channels) {
    throw new Error(
      `decoded image has shape [${info.height}, ${info.width}, ${info.channels}], expected [${height}, ${width}, ${channels}]`,
    );
  }
  const pixels = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) pixels[i] = data[i] / 255;
  return pixels;
}
