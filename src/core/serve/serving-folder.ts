import { join } from 'node:path';
import { digestHex, type Digest } from '../format/digest.js';

/**
 * The folder a version is pulled into under AIM_HOME for serving and installs: keyed by digest, shared by every tag
 * naming it, so a tag that moves later never changes the files a running deployment uses.
 */
export function servingFolder(home: string, repo: string, model: string, digest: Digest): string {
  return join(home, 'models', repo, model, digestHex(digest));
}
