/**
 * Child process for backend comparisons of the embedding worker: starts a ModelEmbedder (its own worker
 * thread and tfjs backend) on the model in argv[2] with the backend in argv[3], embeds `count` seeded
 * images and prints the vectors as JSON. A child, so that the Vulkan driver variables of
 * test/support/webgpu.ts reach the loader (Jest's process.env is a copy).
 *
 *   node -r @swc-node/register test/support/embedder-child.ts MODEL_DIR BACKEND [COUNT]
 */
import { ModelEmbedder } from '../../src/modules/embedding/model-embedder';

async function main(): Promise<void> {
  const [modelDir, backend, countText = '4'] = process.argv.slice(2);
  const embedder = await ModelEmbedder.start(modelDir, { backend, maxBatch: 8 });
  try {
    const pixels = embedder.inputShape.reduce((a, b) => a * b, 1);
    const count = Number(countText);
    // Deterministic images in [0, 1], different from each other.
    const images = Array.from({ length: count }, (_, i) =>
      Float32Array.from({ length: pixels }, (_, p) => ((p * 7 + i * 13) % 17) / 16),
    );
    const vectors = await embedder.embed(images);
    process.stdout.write(JSON.stringify(vectors.map((v) => Array.from(v))));
  } finally {
    await embedder.close();
  }
}

main().catch((error: Error) => {
  process.stderr.write(`${error.stack ?? error.message}\n`);
  process.exit(1);
});
