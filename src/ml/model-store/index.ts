export { saveModel, loadModel, loadModelVersion, readManifest, MANIFEST_FILE } from './model-store';
export type { ModelManifest, ManifestInput } from './model-store';
export {
  fileSystemHandler,
  saveNamedTensors,
  loadNamedTensors,
  sha256,
  writeFileAtomic,
  type NamedTensor,
} from './file-io';
