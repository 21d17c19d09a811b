import { BadRequestException } from '@nestjs/common';
import { resolveDatasetSpec } from './dataset-location';

describe('resolveDatasetSpec', () => {
  it.each([
    'mnist',
    'mnist-all',
    'iconify',
    'emoji',
    'iconify:classes=20',
    'emoji:min-designs=12,classes=40',
  ])('accepts %s as it is', async (name) => {
    await expect(resolveDatasetSpec(name, ['/nonexistent'])).resolves.toBe(name);
  });

  it.each([
    'cifar10',
    'mnist-',
    'mnist-all:x',
    'iconify:',
    'iconify:classes=abc',
    'emoji;rm -rf /',
    'icons',
  ])('rejects %s with a 400 naming the valid forms', async (name) => {
    const attempt = resolveDatasetSpec(name, ['/nonexistent']);
    await expect(attempt).rejects.toBeInstanceOf(BadRequestException);
    await expect(attempt).rejects.toThrow(
      /valid data sets are mnist, mnist-all, iconify\[:OPTIONS\], emoji/,
    );
  });
});
