import { StorageError } from '../core/errors.js';
import type { RepoLocation } from './backend.js';

// Placeholder replaced by the S3 issue's implementation.
export class S3Backend {
  constructor(location: RepoLocation) {
    throw new StorageError(`S3 repositories (${location.path}) are not supported yet`);
  }
}
