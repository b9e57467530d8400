// The hub's model info (GET /api/models/{repo}?blobs=true): the files of a repository with their sizes and, for
// files stored in LFS (every GGUF), the sha256 the hub publishes. Checked against a schema; file names are
// checked too, since they become paths under AIM_HOME.
import * as v from 'valibot';
import { StorageError } from '../../lib/errors.js';
import type { HubHttp } from './hub-http.js';

export interface HubFile {
  /** Path in the repository, e.g. "qwen2.5-7b-instruct-q6_k-00001-of-00002.gguf". */
  name: string;
  size: number;
  /** Hex sha256 of the content, as the hub's LFS pointer records it. */
  sha256?: string;
}

const SIZE = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER));
const SIBLING = v.object({
  rfilename: v.pipe(v.string(), v.maxLength(1024)),
  size: v.optional(SIZE),
  lfs: v.optional(v.object({ sha256: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/)), size: SIZE })),
});
const MODEL_INFO = v.object({ siblings: v.pipe(v.array(SIBLING), v.maxLength(100_000)) });

/** A repository file name that is safe as a relative path: no "..", no absolute path, no backslash or NUL. */
function safeRelative(name: string): boolean {
  return name.length > 0 && !name.startsWith('/') && !/[\\\0]/.test(name) && name.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}

export const REPO_ID = /^[A-Za-z0-9][\w.-]{0,95}\/[A-Za-z0-9][\w.-]{0,95}$/;

export async function listHubFiles(http: HubHttp, repo: string): Promise<HubFile[]> {
  const info = await http.json(`/api/models/${repo}?blobs=true`, MODEL_INFO, `the model ${repo}`);
  return info.siblings.map((s) => {
    if (!safeRelative(s.rfilename)) {
      throw new StorageError(`the hub lists a file of ${repo} under an unsafe name: ${JSON.stringify(s.rfilename)}`, { hint: 'aim downloads only files with plain relative names' });
    }
    return { name: s.rfilename, size: s.lfs?.size ?? s.size ?? 0, sha256: s.lfs?.sha256 };
  });
}

/** resolve/main/FILE: the hub answers with the file or a redirect to its CDN. */
export function resolvePath(repo: string, file: string): string {
  return `/${repo}/resolve/main/${file.split('/').map(encodeURIComponent).join('/')}`;
}
