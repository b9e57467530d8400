// The head of an HTTP/1.1 reply, parsed from its bytes for s3-raw-get.ts: only what an object server sends a GET.

/** An answer this reader does not parse; the same request goes through the SDK's handler instead. */
export class RawUnsupported extends Error {}

/** What the server said before the body: status, lowercased headers, and the body's length. */
export interface ReplyHead {
  status: number;
  headers: Record<string, string>;
  length: number;
}

/** A reply's head is a few hundred bytes; one that does not end within this is not an object server's. */
const MAX_HEAD_BYTES = 16 * 1024;

/** The head of a reply from its bytes, or undefined while its end has not arrived. */
export function parseHead(bytes: Buffer): { head: ReplyHead; bodyStart: number } | undefined {
  const end = bytes.indexOf('\r\n\r\n');
  if (end < 0) {
    if (bytes.length > MAX_HEAD_BYTES) throw new RawUnsupported(`reply head longer than ${MAX_HEAD_BYTES} bytes`);
    return undefined;
  }
  const [statusLine, ...lines] = bytes.subarray(0, end).toString('latin1').split('\r\n');
  const status = /^HTTP\/1\.1 ([2-5]\d\d) /.exec(`${statusLine} `);
  if (!status) throw new RawUnsupported(`status line ${JSON.stringify(statusLine?.slice(0, 40))}`);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new RawUnsupported('a header line without a name');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name in headers && headers[name] !== value) throw new RawUnsupported(`two different ${name} headers`);
    headers[name] = value;
  }
  const length = headers['content-length'];
  if (headers['transfer-encoding'] !== undefined || length === undefined || !/^\d{1,15}$/.test(length)) {
    throw new RawUnsupported('a reply without a plain Content-Length');
  }
  return { head: { status: Number(status[1]), headers, length: Number(length) }, bodyStart: end + 4 };
}
