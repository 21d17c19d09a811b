/**
 * `rir data prepare`: makes a data set ready to use (renders packaged sources into the cache where a data
 * set needs it) and prints its class-disjoint split.
 */
import type { Command } from 'commander';
import { loadDataset } from '../ml/data';

interface PrepareOptions {
  dataset: string;
  seed: number;
  imageSize: number;
  json?: boolean;
}

export function register(program: Command): void {
  const data = program.command('data').description('Data sets: prepare and inspect');
  data
    .command('prepare')
    .description('Prepare a data set (render caches) and print its split')
    .requiredOption(
      '--dataset <spec>',
      'mnist | mnist-all | iconify | emoji | idx:IMAGES,LABELS | folder:PATH',
    )
    .option('--seed <n>', 'split seed', (v) => Number.parseInt(v, 10), 0)
    .option(
      '--image-size <px>',
      'decode size for image data sets',
      (v) => Number.parseInt(v, 10),
      64,
    )
    .option('--json', 'print the split description as JSON')
    .action(async (options: PrepareOptions) => {
      const started = Date.now();
      let skipped = 0;
      const split = await loadDataset(options.dataset, {
        seed: options.seed,
        imageSize: { height: options.imageSize, width: options.imageSize, channels: 3 },
        skipUnreadable: true,
        onWarning: (message) => {
          skipped++;
          process.stderr.write(`${message}\n`);
        },
      });
      const d = split.description;
      if (options.json) {
        process.stdout.write(`${JSON.stringify(d, null, 2)}\n`);
        return;
      }
      process.stdout.write(
        [
          `${d.dataset}: ${d.trainClasses.length} training classes, ${d.testClasses.length} test classes`,
          `images: ${d.counts.train} train, ${d.counts.validation} validation, ${d.counts.test} test; shape [${(d.imageShape ?? []).join(', ')}]`,
          `${skipped} unreadable files skipped; ready in ${((Date.now() - started) / 1000).toFixed(1)} s`,
        ].join('\n') + '\n',
      );
    });
}
