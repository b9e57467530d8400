// The two parsers of the serving side, on generated input: a deployment record read back from AIM_HOME, and an
// endpoint built from a Kamiwaza access_path. Neither may throw anything but aim's own error, and what each accepts
// must be safe to use: a record's name is one plain file name and its pid one process, an endpoint stays on the
// API's host.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseDeploymentRecord } from '../../../src/core/serve/deployments.js';
import { isAimError } from '../../../src/lib/errors.js';
import { endpointOf } from '../../../src/serving/kamiwaza/kamiwaza-endpoint.js';

const RUNS = { numRuns: 10_000 };
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

const recordLike = fc.record({
  name: fc.oneof(fc.constantFrom('tiny', '../x', 'a/b', '.x', 'x\u001b', ''), fc.string()),
  state: fc.oneof(fc.constantFrom('starting', 'ready'), fc.anything()),
  engine: fc.oneof(fc.constantFrom('embedded', 'kamiwaza'), fc.anything()),
  model: fc.anything(), modelId: fc.string(), quant: fc.string(), modelPath: fc.string(),
  endpoint: fc.oneof(fc.constant(''), fc.webUrl(), fc.string()),
  startedAt: fc.string(),
  pid: fc.oneof(fc.integer(), fc.double(), fc.string(), fc.constant(undefined)),
  pidStartTime: fc.oneof(fc.stringMatching(/^\d{1,20}$/), fc.string(), fc.constant(undefined)),
  cmdline: fc.oneof(fc.array(fc.string()), fc.anything(), fc.constant(undefined)),
  port: fc.oneof(fc.integer(), fc.constant(undefined)),
  kamiwaza: fc.oneof(fc.constant(undefined), fc.record({ baseUrl: fc.oneof(fc.webUrl(), fc.string()), deploymentId: fc.oneof(fc.uuid(), fc.string()) })),
}, { requiredKeys: [] });

describe('deployment records read back', () => {
  it('accept only safe names, real pids and ports, and throw nothing but aim errors', () => {
    fc.assert(fc.property(fc.oneof(recordLike, fc.anything()), fc.string(), (value, raw) => {
      const bytes = Buffer.from(typeof value === 'object' && value !== null ? JSON.stringify(value) ?? raw : raw);
      const name = typeof (value as { name?: unknown })?.name === 'string' ? (value as { name: string }).name : 'tiny';
      try {
        const record = parseDeploymentRecord(bytes, '/home/deployments/x.json', name);
        expect(NAME.test(record.name) && !record.name.includes('..')).toBe(true);
        if (record.pid !== undefined) expect(Number.isInteger(record.pid) && record.pid >= 2 && record.pid <= 2 ** 22).toBe(true);
        if (record.port !== undefined) expect(Number.isInteger(record.port) && record.port >= 1 && record.port <= 65535).toBe(true);
        if (record.kamiwaza?.deploymentId !== undefined) expect(record.kamiwaza.deploymentId).toMatch(/^[0-9a-f-]{36}$/i);
      } catch (error) {
        expect(isAimError(error), String(error)).toBe(true);
      }
    }), RUNS);
  });
});

describe('Kamiwaza endpoints', () => {
  it('never leave the API host, whatever the access path', () => {
    const accessPath = fc.oneof(fc.string(), fc.webPath(), fc.webUrl(), fc.constantFrom('@evil.example/x', '//evil.example', '/\\evil'),
      fc.array(fc.constantFrom('/', '.', '..', '@', ':', '%2e', '?', '#', 'a', '\\', ' ', 'runtime'), { maxLength: 12 }).map((parts) => parts.join('')));
    fc.assert(fc.property(accessPath, fc.option(fc.integer({ min: 0, max: 65535 })), (path, port) => {
      try {
        const url = new URL(endpointOf('https://kz.example/api', { id: '0b5e2d4c-1f7a-4e8b-9c3d-2a1b0c9d8e7f', access_path: path, lb_port: port ?? undefined }));
        expect(url.hostname).toBe('kz.example');
        expect(url.username + url.password).toBe('');
        expect(url.search + url.hash).toBe('');
        expect(url.pathname.endsWith('/v1')).toBe(true);
      } catch (error) {
        expect(isAimError(error), String(error)).toBe(true);
      }
    }), RUNS);
  });
});
