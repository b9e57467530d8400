// ListObjectsV2 page by page, trusting nothing the server says about where the listing goes next. A server that
// repeats a continuation token would make the loop run forever, and one that says "truncated" without a token would
// end it early with keys missing (a push would then re-upload, a verify call a repository complete that is not).
// Both are refused with a plain StorageError: a listing is either whole or an error.
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { StorageError } from '../../lib/errors.js';
import type { ObjectInfo } from '../backend.js';
import { plainServerText } from './s3-errors.js';

export interface ListRequest {
  client: S3Client;
  bucket: string;
  /** The repository's key prefix (ends in `/` or is empty); stripped from the keys yielded. */
  root: string;
  /** Prefix below the root. */
  prefix: string;
  pageSize: number;
  /** s3://bucket/prefix, for messages. */
  location: string;
  /** Sends one request with the backend's retries and error translation. */
  send<T>(attempt: (signal: AbortSignal) => Promise<T>): Promise<T>;
}

/**
 * Pages that are truncated yet hold no key cannot go on for ever honestly: S3 fills every page but the last. Some
 * servers return an occasional empty page (keys deleted meanwhile), so a few are tolerated.
 */
const MAX_EMPTY_PAGES = 100;

export async function* listObjects(request: ListRequest): AsyncIterable<ObjectInfo> {
  const { client, bucket, root, prefix } = request;
  const seen = new Set<string>();
  let token: string | undefined;
  let emptyPages = 0;
  do {
    const input = { Bucket: bucket, Prefix: root + prefix, MaxKeys: request.pageSize, ContinuationToken: token };
    const page = await request.send((abortSignal) => client.send(new ListObjectsV2Command(input), { abortSignal }));
    const contents = page.Contents ?? [];
    for (const item of contents) {
      if (!item.Key?.startsWith(root) || item.Key.endsWith('/')) continue; // folder markers of S3 consoles
      yield { key: item.Key.slice(root.length), size: item.Size ?? 0, modified: item.LastModified?.getTime() };
    }
    if (!page.IsTruncated) return;
    emptyPages = contents.length === 0 ? emptyPages + 1 : 0;
    token = nextToken(request, page.NextContinuationToken, seen, emptyPages);
  } while (token !== undefined);
}

function nextToken(request: ListRequest, token: string | undefined, seen: Set<string>, emptyPages: number): string {
  const where = `${request.location}/${request.prefix}`;
  const refuse = (why: string) =>
    new StorageError(`cannot list ${where}: the server ${why}`, {
      hint: 'the endpoint does not list like S3; check it is an S3-compatible server, or report this to its maintainers',
    });
  if (token === undefined || token === '') throw refuse('said the listing goes on but gave no continuation token');
  if (seen.has(token)) throw refuse(`repeated the continuation token ${plainServerText(token)}: the listing would never end`);
  if (emptyPages > MAX_EMPTY_PAGES) throw refuse(`sent ${emptyPages} truncated pages in a row without a key`);
  seen.add(token);
  return token;
}
