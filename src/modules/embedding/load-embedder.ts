/**
 * Loads a model version directory as an Embedder in the calling thread, through the ML core's model
 * store (which checks the weights against the manifest's hash). The embedding worker's only link to
 * the model format.
 */
export { loadModel as loadEmbedder } from '../../ml/model-store';
