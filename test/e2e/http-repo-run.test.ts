// `aim run` of a GGUF from a repository published by a static web server (type http): the version is pulled into
// AIM_HOME with range requests and served by the embedded llama.cpp engine, then stopped.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { writeTinyGgufInto } from '../../fixtures/tiny-gguf.js';
import { createWorkspace, type Workspace } from '../helpers/cli.js';
import { startStaticServer, type StaticServer } from './http-repo-server.js';

const NO_KAMIWAZA = { KAMIWAZA_BASE_URL: '', KAMIWAZA_BASE_URI: '', KAMIWAZA_API_URL: '' };
let ws: Workspace;
let server: StaticServer;

beforeAll(async () => {
  ws = await createWorkspace((dir) => ({ origin: { type: 'local', path: `${dir}/origin` } }), NO_KAMIWAZA);
  await writeTinyGgufInto(ws.path('src'), { quant: 'q8_0', seed: 5 });
  await ws.json(['push', 'origin/tiny:v1', ws.path('src')]);
  server = await startStaticServer(ws.path('origin'));
  await ws.json(['repo', 'create', 'web', '--type', 'http', '--url', server.url]);
});
afterAll(async () => {
  await ws.run(['stop', '--all']);
  await server.close();
  await ws.cleanup();
});

it('runs the tiny GGUF from a web server, answering on its endpoint', async () => {
  server.seen.length = 0;
  const record = await ws.json(['run', 'web/tiny:v1', '--threads', '1', '--ctx-size', '1024']);
  expect(record).toMatchObject({ engine: 'embedded', modelId: 'web/tiny:v1' });
  expect(server.seen.some((request) => request.path.startsWith('/packs/') && request.range !== undefined)).toBe(true);
  const models = await (await fetch(`${record.endpoint}/models`)).json();
  expect(models.data[0].id).toBe('web/tiny:v1');
  expect((await ws.run(['stop', record.name])).code).toBe(0);
});
