// `aim run` of a bundle through the built CLI with the real embedded llama.cpp engine: every member is served as
// its own deployment, on its own port, one `aim ps` line each, and each answers on its endpoint.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTinyGgufInto } from '../../fixtures/tiny-gguf.js';
import { createWorkspace, expectUserError, type Workspace } from '../helpers/cli.js';

const NO_KAMIWAZA = { KAMIWAZA_BASE_URL: '', KAMIWAZA_BASE_URI: '', KAMIWAZA_API_URL: '' };

describe('aim run of a bundle (embedded engine, e2e)', () => {
  let ws: Workspace;

  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/r` } }), NO_KAMIWAZA);
    await writeTinyGgufInto(ws.path('chat'), { quant: 'q8_0', name: 'tiny-chat', seed: 1 });
    await writeTinyGgufInto(ws.path('draft'), { quant: 'q8_0', name: 'tiny-draft', seed: 2 });
    await ws.json(['push', 'r/chat:v1', ws.path('chat')]);
    await ws.json(['push', 'r/draft:v1', ws.path('draft')]);
    await ws.json(['bundle', 'r/pair:v1', 'chat:v1', 'draft:v1']);
  });
  afterAll(async () => {
    await ws.run(['stop', '--all']);
    await ws.cleanup();
  });

  it('serves each member on its own port, one ps line each; --port is refused', async () => {
    expectUserError(await ws.run(['run', 'r/pair:v1', '--port', '0']), /--port names one port/);
    const served = await ws.json(['run', 'r/pair:v1', '--threads', '1', '--ctx-size', '256']);
    expect(served.deployments.map((d: { name: string }) => d.name)).toEqual(['chat', 'draft']);
    const ports = served.deployments.map((d: { endpoint: string }) => new URL(d.endpoint).port);
    expect(new Set(ports).size).toBe(2);
    const ps = await ws.json(['ps']);
    expect(ps.deployments.map((d: { name: string; status: string }) => [d.name, d.status]).sort()).toEqual([['chat', 'running'], ['draft', 'running']]);
    for (const deployment of served.deployments) {
      const reply = await fetch(`${deployment.endpoint}/models`);
      expect(reply.status).toBe(200);
    }
  });
});
