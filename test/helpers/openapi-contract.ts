// Validation of HTTP exchanges against a published OpenAPI 3.1 document with ajv (JSON Schema 2020-12): which
// operation a method and path name, whether path, query and body conform, and whether a response body conforms.
// The Kamiwaza stand-in uses it so that a test passing here means the client speaks the real contract.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS; under NodeNext its default import is the module object in some toolchains.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv2020) => void;

// Vendored unchanged with its licence in test/contracts/kamiwaza/ (see its README): a clone needs nothing beside it.
export const KAMIWAZA_OPENAPI = fileURLToPath(new URL('../contracts/kamiwaza/openapi.json', import.meta.url));

interface Parameter { name: string; in: 'path' | 'query' | 'header' | 'cookie'; required?: boolean; schema?: object }
interface Operation {
  operationId?: string;
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content: Record<string, { schema: object }> };
  responses: Record<string, { content?: Record<string, { schema: object }> }>;
  security?: Array<Record<string, string[]>>;
}

export interface MatchedOperation {
  template: string;
  method: string;
  operation: Operation;
  pointer: string;
  pathParams: Record<string, string>;
}

const escapePointer = (s: string): string => s.replace(/~/g, '~0').replace(/\//g, '~1');

export class OpenApiContract {
  private readonly spec: { paths: Record<string, Record<string, Operation>> };
  private readonly ajv: Ajv2020;
  private readonly coercing: Ajv2020;
  private readonly routes: Array<{ template: string; regex: RegExp; names: string[] }>;
  private readonly cache = new Map<string, ValidateFunction>();

  constructor(file = KAMIWAZA_OPENAPI) {
    const document = JSON.parse(readFileSync(file, 'utf8'));
    this.spec = document;
    // strict: false because the document carries OpenAPI keywords (example, discriminator, x-*) that are not
    // JSON Schema; coercion only for path and query values, which arrive as strings.
    this.ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
    this.coercing = new Ajv2020({ strict: false, allErrors: true, coerceTypes: 'array' });
    for (const ajv of [this.ajv, this.coercing]) {
      addFormats(ajv);
      ajv.addSchema({ ...document, $id: 'openapi.json' });
    }
    this.routes = Object.keys(document.paths).map((template) => {
      const names: string[] = [];
      const pattern = template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)\}/g, (_m, name: string) => {
        names.push(name);
        return '([^/]+)';
      });
      return { template, regex: new RegExp(`^${pattern}$`), names };
    });
    // Literal paths before templated ones, so /serving/deployments never matches /serving/deployment/{id}.
    this.routes.sort((a, b) => a.names.length - b.names.length);
  }

  private validator(pointer: string, coerce = false): ValidateFunction {
    const key = `${coerce}:${pointer}`;
    let fn = this.cache.get(key);
    if (!fn) {
      fn = (coerce ? this.coercing : this.ajv).compile({ $ref: `openapi.json#${pointer}` });
      this.cache.set(key, fn);
    }
    return fn;
  }

  match(method: string, path: string): MatchedOperation | undefined {
    const lower = method.toLowerCase();
    for (const route of this.routes) {
      const m = route.regex.exec(path);
      const operation = m ? this.spec.paths[route.template]?.[lower] : undefined;
      if (!m || !operation) continue;
      const pathParams = Object.fromEntries(route.names.map((n, i) => [n, decodeURIComponent(m[i + 1]!)]));
      return { template: route.template, method: lower, operation, pathParams, pointer: `/paths/${escapePointer(route.template)}/${lower}` };
    }
    return undefined;
  }

  /** Every way a request breaks the contract (empty when it conforms). */
  checkRequest(op: MatchedOperation, query: URLSearchParams, body: unknown, contentType: string | undefined): string[] {
    const problems: string[] = [];
    const params = op.operation.parameters ?? [];
    params.forEach((p, i) => {
      const raw = p.in === 'path' ? op.pathParams[p.name] : p.in === 'query' ? query.getAll(p.name) : undefined;
      const present = p.in === 'path' ? raw !== undefined : p.in === 'query' ? (raw as string[]).length > 0 : true;
      if (!present) {
        if (p.required) problems.push(`missing required ${p.in} parameter ${p.name}`);
        return;
      }
      if (p.in !== 'path' && p.in !== 'query') return;
      const holder = { value: p.in === 'query' && (raw as string[]).length === 1 ? (raw as string[])[0] : raw };
      const key = `param:${op.pointer}/${i}`;
      const validate = this.cache.get(key) ?? this.coercing.compile({ type: 'object', properties: { value: { $ref: `openapi.json#${op.pointer}/parameters/${i}/schema` } } });
      this.cache.set(key, validate);
      if (!validate(holder)) problems.push(`${p.in} parameter ${p.name}: ${this.coercing.errorsText(validate.errors)}`);
    });
    for (const name of new Set(query.keys())) {
      if (!params.some((p) => p.in === 'query' && p.name === name)) problems.push(`unknown query parameter ${name}`);
    }
    const requestBody = op.operation.requestBody;
    if (!requestBody) {
      if (body !== undefined) problems.push('a body was sent to an operation that takes none');
      return problems;
    }
    if (body === undefined) {
      if (requestBody.required) problems.push('missing required JSON body');
      return problems;
    }
    if (!contentType?.startsWith('application/json') || !requestBody.content['application/json']) {
      problems.push(`body content-type ${contentType ?? 'none'} is not application/json`);
      return problems;
    }
    const validate = this.validator(`${op.pointer}/requestBody/content/application~1json/schema`);
    if (!validate(body)) problems.push(`body: ${this.ajv.errorsText(validate.errors)}`);
    return problems;
  }

  /** Problems of a response body for a status (a status the operation does not declare is itself a problem). */
  checkResponse(op: MatchedOperation, status: number, body: unknown): string[] {
    const response = op.operation.responses[String(status)];
    if (!response) return status >= 400 ? [] : [`status ${status} is not declared for ${op.method.toUpperCase()} ${op.template}`];
    if (!response.content?.['application/json']) return [];
    const validate = this.validator(`${op.pointer}/responses/${status}/content/application~1json/schema`);
    return validate(body) ? [] : [`response ${status}: ${this.ajv.errorsText(validate.errors)}`];
  }
}
