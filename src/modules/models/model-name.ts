/**
 * Readable names of model versions. The id stays the key (the directory name, `train-<job id>` for
 * trained versions); the name is what people read and may change (PATCH /v1/models/:id). Unique.
 */

export const MODEL_NAME_MAX_LENGTH = 128;

export const MODEL_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export const MODEL_NAME_RULE =
  "name must be 1-128 characters: letters, digits, '.', '_' or '-', starting with a letter or digit";

/** The validation message of a bad name, with what was sent. */
export const modelNameMessage = ({ value }: { value: unknown }): string =>
  `${MODEL_NAME_RULE} (got ${value === undefined ? 'none' : JSON.stringify(value)})`;

/** The part of a training data set's name that reads well in a model name. */
function datasetPart(dataset: string): string {
  const colon = dataset.indexOf(':');
  const kind = colon < 0 ? dataset : dataset.slice(0, colon);
  const rest = colon < 0 ? '' : dataset.slice(colon + 1);
  // folder:PATH reads as its last path segment; iconify:OPTIONS, idx:FILES as the kind.
  const raw = kind === 'folder' ? (rest.split(/[\\/]/).filter(Boolean).pop() ?? kind) : kind;
  const slug = raw
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .replace(/-+$/, '')
    .slice(0, 64);
  return slug || 'data';
}

/** `<dataset>-<defense>-<YYYY-MM-DD>` (UTC): the name of a trained version unless the request gave one. */
export function defaultModelName(dataset: string, defense: string, date: Date): string {
  return `${datasetPart(dataset)}-${defense}-${date.toISOString().slice(0, 10)}`;
}

/** `name`, `name-2`, `name-3`, ...: the n-th candidate when the earlier ones are taken. */
export function numberedName(name: string, n: number): string {
  if (n <= 1) return name;
  const suffix = `-${n}`;
  return `${name.slice(0, MODEL_NAME_MAX_LENGTH - suffix.length)}${suffix}`;
}
