// GetObject for chunk reads without the SDK's per-request middleware stack (schema serde, checksum, user-agent and
// retry middleware), because a pull sends one GetObject per run of packed chunks, and one per chunk in a repository
// without packs (70,000 for a 70 GB model). Kept because it is measurably cheaper (docs/benchmarks.md, "Lean GET
// against the SDK's GetObject"): a cold pull of 2 GiB from s3rver in loose chunks took 6.5-7.0 s of client CPU
// instead of 10.4-10.8 s (wall 18.9-27.3 s against 26.1-35.2 s); with packs, 4.6-4.8 s instead of 5.0-5.4 s.
// Here the same library parts do the same job once each: the SDK's endpoint rules resolve the URL,
// @smithy/signature-v4 signs, and the client's own request handler (its agents and timeouts) sends. Errors come back
// in the shape the SDK gives them (name, Code, $metadata.httpStatusCode), so retries and messages treat both paths
// alike.
import type { Readable } from 'node:stream';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getEndpointFromInstructions } from '@smithy/core/endpoints';
import { HttpRequest } from '@smithy/core/protocols';
import { SignatureV4 } from '@smithy/signature-v4';

export interface LeanResponse {
  body: Readable;
  contentLength?: number;
  contentRange?: string;
  etag?: string;
}

interface AuthScheme {
  name?: string;
  signingRegion?: string;
  signingName?: string;
}

export class ObjectReader {
  private readonly signers = new Map<string, SignatureV4>();
  /** Cleared once an endpoint turned out to need more than SigV4; reads then go through the SDK. */
  private lean = true;
  private readonly endpoints = new Map<string, ReturnType<typeof getEndpointFromInstructions>>();

  constructor(private readonly client: S3Client) {}

  /** One GetObject attempt: bucket/key, optionally a byte range. */
  async get(bucket: string, key: string, range: string | undefined, abortSignal: AbortSignal): Promise<LeanResponse> {
    const lean = this.lean ? await this.send(bucket, key, range, abortSignal) : undefined;
    if (lean) return lean;
    this.lean = false;
    const out = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: range }), { abortSignal });
    return { body: out.Body as Readable, contentLength: out.ContentLength, contentRange: out.ContentRange, etag: out.ETag };
  }

  /**
   * The lean request, or undefined when the endpoint needs more than plain SigV4 (S3 Express, multi-region access
   * points).
   */
  async send(bucket: string, key: string, range: string | undefined, abortSignal: AbortSignal): Promise<LeanResponse | undefined> {
    const signed = await this.signedRequest(bucket, key, range);
    if (!signed) return undefined;
    const { response } = await this.client.config.requestHandler.handle(signed, { abortSignal });
    const headers = response.headers;
    if (response.statusCode >= 300) throw await serviceError(response.statusCode, headers, response.body as Readable | undefined);
    return {
      body: response.body as Readable,
      contentLength: headers['content-length'] === undefined ? undefined : Number(headers['content-length']),
      contentRange: headers['content-range'],
      etag: headers.etag,
    };
  }

  /** The signed GET, or undefined when the endpoint needs more than plain SigV4. */
  async signedRequest(bucket: string, key: string, range: string | undefined): Promise<HttpRequest | undefined> {
    const config = this.client.config;
    const endpoint = await this.endpointOf(bucket, key);
    const scheme = (endpoint.properties?.authSchemes as AuthScheme[] | undefined)?.[0];
    if (scheme?.name !== undefined && scheme.name !== 'sigv4') return undefined;
    const { url } = endpoint;
    const request = new HttpRequest({
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      method: 'GET',
      path: `${url.pathname.replace(/\/$/, '')}/${key.split('/').map(encodeSegment).join('/')}`,
      headers: { host: url.host, ...(endpoint.headers ? flatten(endpoint.headers) : {}), ...(range ? { range } : {}) },
    });
    const signer = this.signer(scheme?.signingRegion ?? (await config.region()), scheme?.signingName ?? 's3');
    // The SDK corrects its clock by the offset it learned from a server's Date header after a skew error; so do we.
    return (await signer.sign(request, { signingDate: new Date(Date.now() + (config.systemClockOffset ?? 0)) })) as HttpRequest;
  }

  /**
   * The endpoint rules run once per bucket: they pick the host and path style from the bucket, region and client
   * settings, never from the key (which goes at the end of the path), and they cost 0.1 ms a request.
   */
  private endpointOf(bucket: string, key: string): ReturnType<typeof getEndpointFromInstructions> {
    let endpoint = this.endpoints.get(bucket);
    if (!endpoint) {
      endpoint = getEndpointFromInstructions({ Bucket: bucket, Key: key }, GetObjectCommand, this.client.config);
      endpoint.catch(() => this.endpoints.delete(bucket));
      this.endpoints.set(bucket, endpoint);
    }
    return endpoint;
  }

  private signer(region: string, service: string): SignatureV4 {
    const id = `${region} ${service}`;
    let signer = this.signers.get(id);
    if (!signer) {
      const config = this.client.config;
      // S3 signs the path as sent (no second encoding) and wants the payload hash header (of the empty body).
      signer = new SignatureV4({ credentials: config.credentials, region, service, sha256: config.sha256, uriEscapePath: false, applyChecksum: true });
      this.signers.set(id, signer);
    }
    return signer;
  }
}

/** The SDK's encoding of a key segment: encodeURIComponent, plus the characters it leaves alone that S3 wants escaped. */
function encodeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function flatten(headers: Record<string, string[]>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, values]) => [name, values.join(',')]));
}

/** An error like the SDK's for a non-2xx answer: the XML body's Code and Message, and the status. */
async function serviceError(status: number, headers: Record<string, string>, body: Readable | undefined): Promise<Error> {
  let text = '';
  if (body) {
    // An error document is a few hundred bytes; past 64 KiB the rest is not read at all (the connection is dropped).
    for await (const piece of body) {
      text += (piece as Buffer).toString('utf8');
      if (text.length >= 64 * 1024) break;
    }
    body.destroy();
  }
  return serviceErrorOf(status, headers, text);
}

/** The error for a non-2xx answer whose body (or its first 64 KiB) is `text`. */
export function serviceErrorOf(status: number, headers: Record<string, string>, text: string): Error {
  const tag = (name: string) => unescapeXml(new RegExp(`<${name}>([^<]*)</${name}>`).exec(text)?.[1]);
  const code = tag('Code') ?? (status === 404 ? 'NotFound' : `Http${status}`);
  const error = new Error(tag('Message') ?? `${code} (HTTP ${status})`);
  return Object.assign(error, {
    name: code,
    Code: code,
    Region: tag('Region'),
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status, requestId: headers['x-amz-request-id'] },
    $response: { statusCode: status, headers },
  });
}

const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function unescapeXml(text: string | undefined): string | undefined {
  return text?.replace(/&(amp|lt|gt|quot|apos);/g, (_, name: string) => XML_ENTITIES[name]!);
}
