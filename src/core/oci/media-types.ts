import { basename, extname } from 'node:path';

// The media types and annotation keys of the OCI image layout, of CNCF ModelPack (github.com/modelpack/model-spec,
// specs-go/v1), and of the two other model artifacts aim imports: KitOps ModelKits and Docker Model Runner models.

export const OCI_LAYOUT_VERSION = '1.0.0';
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const REF_NAME = 'org.opencontainers.image.ref.name';
export const OCI_TITLE = 'org.opencontainers.image.title';
/** The config of an artifact that needs none (OCI image-spec 1.1, the empty descriptor). */
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';

export const MODELPACK_ARTIFACT = 'application/vnd.cncf.model.manifest.v1+json';
export const MODELPACK_CONFIG = 'application/vnd.cncf.model.config.v1+json';
export const FILEPATH = 'org.cncf.model.filepath';
export const FILE_METADATA = 'org.cncf.model.file.metadata+json';
export const MEDIATYPE_UNTESTED = 'org.cncf.model.file.mediatype.untested';

/** What aim carries along so an import rebuilds the same version: its digest, annotations and each file's BLAKE3. */
export const AIM_DIGEST = 'ai.aim.version.digest';
export const AIM_ANNOTATIONS = 'ai.aim.version.annotations';
export const AIM_FILE_DIGEST = 'ai.aim.file.digest';

export const KITOPS_CONFIG = 'application/vnd.kitops.modelkit.config.v1+json';
export const DOCKER_CONFIGS = ['application/vnd.docker.ai.model.config.v0.1+json', 'application/vnd.docker.ai.model.config.v0.2+json'];

export type LayerKind = 'weight' | 'weight.config' | 'doc' | 'code' | 'dataset';

export const modelpackRawType = (kind: LayerKind): string => `application/vnd.cncf.model.${kind}.v1.raw`;

const WEIGHT_EXTENSIONS = new Set(['.gguf', '.safetensors', '.bin', '.pt', '.pth', '.ckpt', '.onnx', '.h5', '.keras', '.tflite', '.pb', '.msgpack', '.npz', '.mlmodel', '.dduf', '.engine', '.plan']);
const CODE_EXTENSIONS = new Set(['.py', '.ipynb', '.sh', '.js', '.ts', '.go', '.rs', '.c', '.cc', '.cpp', '.h', '.hpp', '.java', '.jinja', '.r']);
const DOC_EXTENSIONS = new Set(['.md', '.rst', '.txt', '.pdf', '.html']);
const DOC_NAMES = /^(readme|license|licence|notice|copying|authors|changelog|model[-_]card)([-_.].*)?$/i;
// Files that configure weights: the model's own config, tokenizers and vocabularies, generation settings.
const WEIGHT_CONFIG_NAMES = /^(.*config\.json|tokenizer.*|vocab\..*|merges\.txt|special_tokens_map\.json|added_tokens\.json|.*\.tiktoken|preprocessor.*\.json|.*\.index\.json)$/i;
const DATASET_EXTENSIONS = new Set(['.csv', '.parquet', '.jsonl', '.arrow', '.tsv']);

/**
 * The ModelPack kind of a file, from its name; `untested` when nothing in the name says (ModelPack then asks for
 * the `org.cncf.model.file.mediatype.untested` annotation).
 */
export function layerKindOf(path: string): { kind: LayerKind; untested: boolean } {
  const name = basename(path);
  const extension = extname(name).toLowerCase();
  if (WEIGHT_EXTENSIONS.has(extension)) return { kind: 'weight', untested: false };
  if (WEIGHT_CONFIG_NAMES.test(name)) return { kind: 'weight.config', untested: false };
  if (DOC_NAMES.test(name) || DOC_EXTENSIONS.has(extension)) return { kind: 'doc', untested: false };
  if (CODE_EXTENSIONS.has(extension)) return { kind: 'code', untested: false };
  if (DATASET_EXTENSIONS.has(extension)) return { kind: 'dataset', untested: false };
  if (extension === '.json' || extension === '.yaml' || extension === '.yml') return { kind: 'weight.config', untested: true };
  return { kind: 'weight', untested: true };
}

/** How an imported layer's bytes become files: the blob is the file, or the blob is a tar of files. */
export type LayerPacking = { kind: 'raw' } | { kind: 'tar'; compression: 'none' | 'gzip' };

const MODELPACK_LAYER = /^application\/vnd\.cncf\.model\.(weight|weight\.config|doc|code|dataset)\.v1\.(raw|tar|tar\+gzip|tar\+zstd)$/;
const KITOPS_LAYER = /^application\/vnd\.kitops\.modelkit\.(model|modelpart|dataset|code|docs|prompts)\.v1\.tar(\+gzip|\+zstd)?$/;
/** Docker Model Runner's raw files: the GGUF (and its LoRA and projector), licenses, chat templates, safetensors. */
const DOCKER_LAYER = /^application\/vnd\.docker\.ai\.(gguf\.v3|gguf\.v3\.lora|mmproj|license|chat\.template\.jinja|safetensors|dduf|vllm\.config\.tar)$/;

/** How a layer of `mediaType` unpacks, `'zstd'` for a compression aim cannot read, or undefined for a type it does not know. */
export function layerPacking(mediaType: string): LayerPacking | 'zstd' | undefined {
  const modelpack = MODELPACK_LAYER.exec(mediaType);
  if (modelpack) return packingOf(modelpack[2]!);
  const kitops = KITOPS_LAYER.exec(mediaType);
  if (kitops) return packingOf(`tar${kitops[2] ?? ''}`);
  const docker = DOCKER_LAYER.exec(mediaType);
  if (docker) return docker[1] === 'vllm.config.tar' ? { kind: 'tar', compression: 'none' } : { kind: 'raw' };
  return undefined;
}

function packingOf(suffix: string): LayerPacking | 'zstd' {
  if (suffix === 'raw') return { kind: 'raw' };
  if (suffix === 'tar') return { kind: 'tar', compression: 'none' };
  if (suffix === 'tar+gzip') return { kind: 'tar', compression: 'gzip' };
  return 'zstd';
}

/** A name for a raw Docker layer that carries none: `model.gguf`, `license-2.txt`, ... */
export function dockerFileName(mediaType: string, seen: number): string {
  const suffix = seen === 0 ? '' : `-${seen + 1}`;
  if (mediaType.endsWith('gguf.v3')) return `model${suffix}.gguf`;
  if (mediaType.endsWith('gguf.v3.lora')) return `adapter${suffix}.gguf`;
  if (mediaType.endsWith('mmproj')) return `mmproj${suffix}.gguf`;
  if (mediaType.endsWith('license')) return `LICENSE${suffix}.txt`;
  if (mediaType.endsWith('chat.template.jinja')) return `template${suffix}.jinja`;
  if (mediaType.endsWith('safetensors')) return `model${suffix}.safetensors`;
  return `model${suffix}.dduf`;
}
