export { evaluateRetrieval, type RetrievalMetrics, type EvaluateOptions } from './retrieval';
export { kMeans, normalizedMutualInformation } from './clustering';
export { embedAll, pixelEmbeddings } from './embed-all';
