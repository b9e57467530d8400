// HTTP transport to the Kamiwaza REST API: base URL with its /api prefix, Bearer token, optional TLS verification
// off for the self-signed certificates of local installs, and one translation of failures into EngineErrors that say
// what to do. node:http(s) rather than fetch, because fetch cannot turn certificate checks off per request. Every
// reply is untrusted: read within a total deadline and a size cap, then checked against its schema.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest, Agent } from 'node:https';
import * as v from 'valibot';
import { ConfigError, EngineError } from '../../lib/errors.js';
import { kamiwazaEnv, kamiwazaLimits, type KamiwazaLimits } from '../../settings/kamiwaza.js';

export interface KamiwazaSettings {
  /** e.g. https://localhost/api; /api is appended when missing. */
  baseUrl: string;
  apiKey?: string;
  verifySsl: boolean;
}

/**
 * Settings from the environment (as the Kamiwaza SDK reads them), then the config's `kamiwaza.url`; `preferredUrl`
 * (the effective `kamiwaza.url` setting, which a flag may set) wins over both.
 */
export function kamiwazaSettings(env?: NodeJS.ProcessEnv, configUrl?: string, preferredUrl?: string): KamiwazaSettings {
  const fromEnv = kamiwazaEnv(env);
  const raw = preferredUrl ?? fromEnv.url ?? configUrl;
  if (!raw) {
    throw new ConfigError('no Kamiwaza server is configured', {
      hint: 'set KAMIWAZA_BASE_URL (e.g. https://localhost/api) and KAMIWAZA_API_KEY, or use --engine embedded',
    });
  }
  return {
    baseUrl: withApiPrefix(raw),
    apiKey: fromEnv.apiKey,
    verifySsl: fromEnv.verifySsl,
  };
}

/**
 * The settings to reach the server a deployment record names. The record comes from AIM_HOME and is not trusted
 * with the API key: the key goes only to the server the user configured, never to another one a record names.
 */
export function settingsForRecord(configured: KamiwazaSettings, recordBaseUrl: string | undefined): KamiwazaSettings {
  if (!recordBaseUrl) return configured;
  const origin = (url: string) => (URL.canParse(url) ? new URL(url).origin : undefined);
  const sameServer = origin(recordBaseUrl) !== undefined && origin(recordBaseUrl) === origin(configured.baseUrl);
  return { ...configured, baseUrl: recordBaseUrl, apiKey: sameServer ? configured.apiKey : undefined };
}

export function withApiPrefix(url: string): string {
  const trimmed = url.replace(/\/+$/, '');
  return /\/api$/.test(trimmed) ? trimmed : `${trimmed}/api`;
}

export interface CallOptions {
  query?: Record<string, string | boolean | undefined>;
  body?: unknown;
}

interface RawReply {
  status: number;
  text: string;
  contentType: string;
}

const insecureAgent = new Agent({ rejectUnauthorized: false });

export class KamiwazaHttp {
  readonly limits: KamiwazaLimits;

  constructor(readonly settings: KamiwazaSettings, limits: Partial<KamiwazaLimits> = {}) {
    this.limits = { ...kamiwazaLimits(), ...limits };
  }

  /** One request; the reply must be JSON of `schema`'s shape, read within the deadline and the size cap. */
  async call<S extends v.GenericSchema>(method: string, path: string, schema: S, options: CallOptions = {}): Promise<{ status: number; body: v.InferOutput<S> }> {
    const url = new URL(`${this.settings.baseUrl}${path}`);
    for (const [k, value] of Object.entries(options.query ?? {})) if (value !== undefined) url.searchParams.set(k, String(value));
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (payload !== undefined) headers['content-type'] = 'application/json';
    if (this.settings.apiKey) headers.authorization = `Bearer ${this.settings.apiKey}`;
    const { status, text, contentType } = await this.send(method, url, headers, payload);
    if (status === 401 || status === 403) {
      throw new EngineError(`Kamiwaza at ${this.settings.baseUrl} refused the request (${status}: ${detailOf(text)})`, {
        hint: this.settings.apiKey ? 'KAMIWAZA_API_KEY is not accepted: create a new PAT (audience kamiwaza-platform) and set it'
          : 'set KAMIWAZA_API_KEY to a personal access token from the Kamiwaza UI',
      });
    }
    if (!contentType.includes('application/json')) {
      throw new EngineError(`${url.origin}${url.pathname} did not answer with JSON (HTTP ${status})`, {
        hint: 'KAMIWAZA_BASE_URL must point at the API, usually https://HOST/api',
      });
    }
    if (status >= 400) throw new KamiwazaStatusError(method, path, status, detailOf(text));
    return { status, body: this.parse(method, path, text, schema) };
  }

  private parse<S extends v.GenericSchema>(method: string, path: string, text: string, schema: S): v.InferOutput<S> {
    let json: unknown;
    try {
      json = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
      throw this.unexpected(method, path, 'the body is not valid JSON');
    }
    const result = v.safeParse(schema, json);
    if (!result.success) throw this.unexpected(method, path, describeIssue(result.issues[0]));
    return result.output;
  }

  private unexpected(method: string, path: string, why: string): EngineError {
    return new EngineError(`Kamiwaza at ${this.settings.baseUrl} answered ${method} ${path} with an unexpected reply: ${why}`, {
      hint: 'aim expects the Kamiwaza 1.2 API; check the server version and that KAMIWAZA_BASE_URL points at it',
    });
  }

  /** The raw exchange, abandoned when it takes longer than the deadline in all or its body grows past the cap. */
  private send(method: string, url: URL, headers: Record<string, string>, payload?: string): Promise<RawReply> {
    const isHttps = url.protocol === 'https:';
    const request = isHttps ? httpsRequest : httpRequest;
    const { requestTimeoutMs, maxReplyBytes } = this.limits;
    return new Promise((resolve, reject) => {
      const fail = (error: Error) => {
        clearTimeout(deadline);
        req.destroy();
        reject(error);
      };
      const req = request(url, { method, headers, ...(isHttps && !this.settings.verifySsl ? { agent: insecureAgent } : {}) }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxReplyBytes) return fail(this.tooLarge(method, url, maxReplyBytes));
          chunks.push(chunk);
        });
        res.on('end', () => {
          clearTimeout(deadline);
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), contentType: String(res.headers['content-type'] ?? '') });
        });
        res.on('error', (error: NodeJS.ErrnoException) => fail(this.unreachable(error)));
      });
      const deadline = setTimeout(() => fail(this.timedOut(method, url, requestTimeoutMs)), requestTimeoutMs);
      req.on('error', (error: NodeJS.ErrnoException) => fail(this.unreachable(error)));
      req.end(payload);
    });
  }

  private tooLarge(method: string, url: URL, limit: number): EngineError {
    return new EngineError(`Kamiwaza at ${this.settings.baseUrl} sent more than ${Math.round(limit / 1024 / 1024)} MiB in reply to ${method} ${url.pathname}; aim stopped reading`, {
      hint: 'check that KAMIWAZA_BASE_URL points at a Kamiwaza API; raise AIM_KAMIWAZA_MAX_REPLY_BYTES if the server really holds that much',
    });
  }

  private timedOut(method: string, url: URL, limit: number): EngineError {
    return new EngineError(`Kamiwaza at ${this.settings.baseUrl} did not answer ${method} ${url.pathname} within ${limit / 1000} s`, {
      hint: 'check the server\'s load and network; raise AIM_KAMIWAZA_REQUEST_TIMEOUT_MS if it is just slow',
    });
  }

  private unreachable(error: NodeJS.ErrnoException): EngineError {
    const tls = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(error.code ?? '');
    return new EngineError(`cannot reach Kamiwaza at ${this.settings.baseUrl} (${error.code ?? error.message})`, {
      hint: tls ? 'the server uses a self-signed certificate: set KAMIWAZA_VERIFY_SSL=false if you trust it'
        : 'check that Kamiwaza is running and KAMIWAZA_BASE_URL is right, or use --engine embedded',
      cause: error,
    });
  }
}

function describeIssue(issue: v.BaseIssue<unknown>): string {
  const where = issue.path?.map((p) => String(p.key)).join('.') ?? '';
  return `${where ? `${where}: ` : ''}${issue.message}`.slice(0, 300);
}

/** A non-2xx answer other than auth; callers catch the 404s they expect. */
export class KamiwazaStatusError extends EngineError {
  constructor(readonly method: string, readonly path: string, readonly status: number, readonly detail: string) {
    super(`Kamiwaza answered ${status} to ${method} ${path}: ${detail}`, { hint: 'see the Kamiwaza server logs for details' });
  }
}

/** The server's reason, from FastAPI's `{detail}` body when there is one; never more than a line's worth. */
function detailOf(text: string): string {
  let detail: unknown;
  try {
    detail = (JSON.parse(text) as { detail?: unknown } | null)?.detail;
  } catch {
    // not JSON: fall through to the raw text
  }
  const reason = typeof detail === 'string' ? detail
    : Array.isArray(detail) ? detail.slice(0, 5).map((d) => String((d as { msg?: unknown } | null)?.msg ?? JSON.stringify(d))).join('; ')
      : text;
  return reason.slice(0, 300) || 'no detail';
}
