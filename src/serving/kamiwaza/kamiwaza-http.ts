// HTTP transport to the Kamiwaza REST API: base URL with its /api prefix, Bearer token, optional TLS verification
// off for the self-signed certificates of local installs, and one translation of failures into EngineErrors that say
// what to do. node:http(s) rather than fetch, because fetch cannot turn certificate checks off per request.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest, Agent } from 'node:https';
import { ConfigError, EngineError } from '../../lib/errors.js';
import { kamiwazaEnv } from '../../settings/kamiwaza.js';

export interface KamiwazaSettings {
  /** e.g. https://localhost/api; /api is appended when missing. */
  baseUrl: string;
  apiKey?: string;
  verifySsl: boolean;
}

/** Settings from the environment (as the Kamiwaza SDK reads them), then the config's `kamiwaza.url`. */
export function kamiwazaSettings(env?: NodeJS.ProcessEnv, configUrl?: string): KamiwazaSettings {
  const fromEnv = kamiwazaEnv(env);
  const raw = fromEnv.url ?? configUrl;
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

export function withApiPrefix(url: string): string {
  const trimmed = url.replace(/\/+$/, '');
  return /\/api$/.test(trimmed) ? trimmed : `${trimmed}/api`;
}

export interface CallOptions {
  query?: Record<string, string | boolean | undefined>;
  body?: unknown;
}

const insecureAgent = new Agent({ rejectUnauthorized: false });

export class KamiwazaHttp {
  constructor(readonly settings: KamiwazaSettings, private readonly timeoutMs = 30_000) {}

  async call<T>(method: string, path: string, options: CallOptions = {}): Promise<{ status: number; body: T }> {
    const url = new URL(`${this.settings.baseUrl}${path}`);
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
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
    const body = text.length > 0 ? (JSON.parse(text) as T) : (undefined as T);
    if (status >= 400) throw new KamiwazaStatusError(method, path, status, detailOf(text));
    return { status, body };
  }

  private send(method: string, url: URL, headers: Record<string, string>, payload?: string): Promise<{ status: number; text: string; contentType: string }> {
    const isHttps = url.protocol === 'https:';
    const request = isHttps ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = request(url, { method, headers, timeout: this.timeoutMs, ...(isHttps && !this.settings.verifySsl ? { agent: insecureAgent } : {}) }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), contentType: String(res.headers['content-type'] ?? '') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
      req.on('error', (error: NodeJS.ErrnoException) => reject(this.unreachable(error)));
      req.end(payload);
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

/** A non-2xx answer other than auth; callers catch the 404s they expect. */
export class KamiwazaStatusError extends EngineError {
  constructor(readonly method: string, readonly path: string, readonly status: number, readonly detail: string) {
    super(`Kamiwaza answered ${status} to ${method} ${path}: ${detail}`, { hint: 'see the Kamiwaza server logs for details' });
  }
}

function detailOf(text: string): string {
  try {
    const detail = (JSON.parse(text) as { detail?: unknown }).detail;
    if (typeof detail === 'string') return detail;
    if (Array.isArray(detail)) return detail.map((d) => (d as { msg?: string }).msg ?? JSON.stringify(d)).join('; ');
  } catch {
    // not JSON: fall through to the raw text
  }
  return text.slice(0, 200) || 'no detail';
}
