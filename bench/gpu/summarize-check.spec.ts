import { GPU_TARGET_RATIO, summarizeGpuCheck } from './summarize-check';

const line = (row: Record<string, unknown>) => JSON.stringify(row);

describe('summarizeGpuCheck (bench/gpu/check.sh)', () => {
  it('pairs tfjs and PyTorch rows by mode, input and batch, and reports each ratio against 0.5x', () => {
    const summary = summarizeGpuCheck({
      meta: { gpu: 'NVIDIA H200', seconds: 200 },
      lines: {
        'webgpu-reference': [
          'Warning: a log line on stdout',
          line({
            framework: 'tfjs',
            mode: 'train',
            height: 28,
            channels: 1,
            batch: 128,
            img_per_s: 2000,
          }),
          line({
            framework: 'tfjs',
            mode: 'infer',
            height: 28,
            channels: 1,
            batch: 256,
            img_per_s: 100000,
          }),
        ],
        'torch-reference': [
          line({
            framework: 'pytorch',
            mode: 'train',
            height: 28,
            channels: 1,
            batch: 128,
            img_per_s: 32000,
          }),
          line({
            framework: 'pytorch',
            mode: 'infer',
            height: 28,
            channels: 1,
            batch: 256,
            img_per_s: 150000,
          }),
          // Another batch is another measurement: not paired with the tfjs row of batch 128.
          line({
            framework: 'pytorch',
            mode: 'pgd_step',
            height: 28,
            channels: 1,
            batch: 8,
            img_per_s: 10,
          }),
        ],
        'webgpu-production': [
          line({
            framework: 'tfjs',
            mode: 'small-cnn:train',
            height: 28,
            channels: 1,
            batch: 128,
            img_per_s: 900,
          }),
          line({ bench: 'optimizer-step', model: 'small-cnn', speedup: 1.8 }),
        ],
        'torch-production': [
          line({ mode: 'small-cnn:train', B: 128, height: 28, channels: 1, img_per_s: 1800 }),
        ],
      },
    });
    expect(summary.gpu).toBe('NVIDIA H200');
    expect(summary.ratios).toEqual([
      expect.objectContaining({
        net: 'reference',
        mode: 'train',
        input: '28x28x1',
        batch: 128,
        ratio: 0.063,
        met: false,
      }),
      expect.objectContaining({ net: 'reference', mode: 'infer', ratio: 0.667, met: true }),
      expect.objectContaining({
        net: 'reference',
        mode: 'pgd_step',
        batch: 8,
        tfjsImgPerS: null,
        ratio: null,
        met: null,
      }),
      expect.objectContaining({
        net: 'production',
        mode: 'small-cnn:train',
        batch: 128,
        ratio: 0.5,
        met: true,
        target: GPU_TARGET_RATIO,
      }),
    ]);
    expect(summary.targetsMet).toBe('2 of 4');
    expect(summary.optimizerStep).toEqual([
      { bench: 'optimizer-step', model: 'small-cnn', speedup: 1.8 },
    ]);
  });

  it('reports a step that printed nothing as rows without ratios', () => {
    const summary = summarizeGpuCheck({
      meta: {},
      lines: {
        'webgpu-production': [''],
        'torch-production': [
          line({ mode: 'small-cnn:infer', B: 256, height: 28, channels: 1, img_per_s: 5 }),
        ],
      },
    });
    expect(summary.ratios).toEqual([
      expect.objectContaining({
        mode: 'small-cnn:infer',
        tfjsImgPerS: null,
        torchImgPerS: 5,
        met: null,
      }),
    ]);
    expect(summary.targetsMet).toBe('0 of 1');
  });
});
