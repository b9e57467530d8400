import type { Backend, RepoLocation } from './backend.js';
import { LocalBackend } from './local.js';

export type { Backend, ConditionalPut, ObjectInfo, RepoLocation } from './backend.js';
export { supportsConditionalPut } from './backend.js';

/** Opens the backend a repository names. The S3 backend (and the AWS SDK) load only when a repository needs them. */
export async function openBackend(location: RepoLocation): Promise<Backend> {
  if (location.type === 'local') return new LocalBackend(location.path);
  if (location.type === 'http') {
    const { HttpBackend } = await import('./http/http.js');
    return new HttpBackend(location.path, (location as { name?: string }).name);
  }
  const { S3Backend } = await import('./s3/s3.js');
  return new S3Backend(location) as unknown as Backend;
}
