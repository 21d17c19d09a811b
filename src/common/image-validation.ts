import sharp from 'sharp';

type Metadata = Awaited<ReturnType<ReturnType<typeof sharp>['metadata']>>;

/** Formats accepted for gallery images and queries (detected from the bytes, never from the name). */
const MIME_BY_FORMAT: Record<string, string> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
  tiff: 'image/tiff',
  avif: 'image/avif',
};

/** An uploaded file, read into memory (`UploadedPart` of src/common/multipart.ts). */
export interface UploadedImage {
  buffer: Buffer;
  originalname?: string;
}

export interface ImageLimits {
  maxFileBytes: number;
  maxPixels: number;
}

export interface InspectedImage {
  mime: string;
  width: number;
  height: number;
}

/** Why an upload is refused; `status` is the HTTP status the API answers with. */
export class ImageRejectedError extends Error {
  constructor(
    readonly status: 400 | 413 | 415,
    message: string,
  ) {
    super(message);
    this.name = 'ImageRejectedError';
  }
}

/**
 * Checks an upload from its bytes: not empty, within the size limit, a supported image format, and
 * within the pixel limit (read from the header, before anything is decoded: a decompression bomb is
 * refused without being expanded). Truncation is caught later by the full decode.
 */
export async function inspectImage(
  bytes: Buffer,
  limits: ImageLimits,
  name = 'file',
): Promise<InspectedImage> {
  if (bytes.length === 0) throw new ImageRejectedError(400, `${name} is empty`);
  if (bytes.length > limits.maxFileBytes) {
    throw new ImageRejectedError(
      413,
      `${name} is ${bytes.length} bytes, the limit is ${limits.maxFileBytes}`,
    );
  }
  let metadata: Metadata;
  try {
    metadata = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch {
    throw new ImageRejectedError(
      415,
      `${name} is not a supported image (JPEG, PNG, WebP, GIF, TIFF or AVIF)`,
    );
  }
  const mime = metadata.format ? MIME_BY_FORMAT[metadata.format] : undefined;
  if (!mime) {
    throw new ImageRejectedError(
      415,
      `${name} has unsupported format '${metadata.format ?? 'unknown'}'`,
    );
  }
  const { width, height } = metadata;
  if (!width || !height) throw new ImageRejectedError(400, `${name} has no image dimensions`);
  if (width * height > limits.maxPixels) {
    throw new ImageRejectedError(
      413,
      `${name} is ${width}x${height} = ${width * height} pixels, the limit is ${limits.maxPixels}`,
    );
  }
  return { mime, width, height };
}
