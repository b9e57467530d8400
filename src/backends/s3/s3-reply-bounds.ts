// A size bound on every S3 reply the SDK parses itself (listings, HEAD, PUT and DELETE answers, error documents).
// The SDK would read any of them whole into memory, however long a broken or hostile server makes it; here the
// reply is read first, up to a bound no honest answer comes near, and refused past it. GetObject bodies stream to
// aim's own reader, which bounds them by what the caller asked for (s3-client.ts readBody/readBodyInto).
import { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';

/** A ListObjectsV2 page of 1,000 keys of the longest allowed length (1,024 bytes) with their XML is under 2 MiB. */
export const MAX_REPLY_BYTES = 8 * 1024 * 1024;

/** The error the SDK's callers see for an oversized reply; its code is not retryable (the server would repeat it). */
export class ReplyTooLarge extends Error {
  override readonly name = 'ReplyTooLarge';
  readonly code = 'ReplyTooLarge';
}

interface RawResponse {
  statusCode?: number;
  headers?: Record<string, string | undefined>;
  body?: unknown;
}

async function readBounded(body: Readable, maxBytes: number): Promise<Buffer> {
  const pieces: Buffer[] = [];
  let total = 0;
  try {
    for await (const piece of body) {
      total += (piece as Buffer).length;
      if (total > maxBytes) throw new ReplyTooLarge(`the server's reply passed ${maxBytes} bytes`);
      pieces.push(piece as Buffer);
    }
  } finally {
    body.destroy();
  }
  return Buffer.concat(pieces, total);
}

/** Installs the bound on every command of `client` except GetObject. */
export function boundReplies(client: S3Client, maxBytes = MAX_REPLY_BYTES): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const out = await next(args);
      const response = out.response as RawResponse;
      if (context.commandName === 'GetObjectCommand' || !(response.body instanceof Readable)) return out;
      // A HEAD answer's Content-Length is the object's size, not the length of a body (it has none).
      const declared = context.commandName?.startsWith('Head') ? 0 : Number(response.headers?.['content-length'] ?? 0);
      if (declared > maxBytes) {
        response.body.destroy();
        throw new ReplyTooLarge(`the server announced a reply of ${declared} bytes, more than the ${maxBytes} aim accepts`);
      }
      response.body = Readable.from([await readBounded(response.body, maxBytes)]);
      return out;
    },
    // Low priority in the deserialize step puts this between the HTTP handler and the SDK's parser.
    { step: 'deserialize', priority: 'low', name: 'aimReplyBound' },
  );
}
