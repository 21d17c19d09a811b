/** Small labelled test pictures for the console tests: grey 32x32 patterns that look different. */
import sharp from 'sharp';

export interface TestImage {
  name: string;
  mimeType: string;
  buffer: Buffer;
  label: string;
}

const SIZE = 32;

function pattern(kind: string, variant: number): Buffer {
  const pixels = Buffer.alloc(SIZE * SIZE);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      let on = false;
      if (kind === 'stripes') on = Math.floor((x + variant * 2) / 4) % 2 === 0;
      if (kind === 'rings') on = Math.floor(Math.hypot(x - 16, y - 16) / (3 + variant)) % 2 === 0;
      if (kind === 'checks')
        on = (Math.floor(x / (4 + variant)) + Math.floor(y / (4 + variant))) % 2 === 0;
      pixels[y * SIZE + x] = on ? 230 : 25;
    }
  }
  return pixels;
}

/** `count` images of each kind, labelled by kind. */
export async function patternImages(count = 3): Promise<TestImage[]> {
  const images: TestImage[] = [];
  for (const kind of ['stripes', 'rings', 'checks']) {
    for (let variant = 0; variant < count; variant++) {
      const buffer = await sharp(pattern(kind, variant), {
        raw: { width: SIZE, height: SIZE, channels: 1 },
      })
        .png()
        .toBuffer();
      images.push({ name: `${kind}-${variant}.png`, mimeType: 'image/png', buffer, label: kind });
    }
  }
  return images;
}
