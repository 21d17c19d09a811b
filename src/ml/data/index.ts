export { decodeImage, type DecodeOptions } from './decode-image';
export { parseIdx, idxToImageSet, type IdxArray } from './idx';
export { loadDataset, trainingClassCount, type LoadDatasetOptions } from './datasets';
export { listImageFolder, decodeFiles, IMAGE_EXTENSIONS } from './folder';
export { MPerClassSampler, type MPerClassOptions } from './sampler';
export { augmentBatch, isAugmenting, NO_AUGMENTATION, type AugmentationConfig } from './augment';
export { SeededRandom } from './random';
export { gatherImages, selectImages } from './split';
