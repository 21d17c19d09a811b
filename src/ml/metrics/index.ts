export { evaluateRetrieval, type RetrievalMetrics, type EvaluateOptions } from './retrieval';
export { kMeans, normalizedMutualInformation } from './clustering';
export { embedAll, embedAllAsync, embedAllSteps, pixelEmbeddings } from './embed-all';
