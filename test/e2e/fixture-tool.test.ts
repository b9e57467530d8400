// The tiny-GGUF fixture tool (dist/fixtures/make-tiny-gguf.js), as a person tries it: `./` folders and file paths,
// and every --quant it offers writes a GGUF that `aim run FILE` loads and answers with; one it cannot write is
// refused instead of being written under a name its header contradicts.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkspace, type Workspace } from '../helpers/cli.js';

const TOOL = fileURLToPath(new URL('../../dist/fixtures/make-tiny-gguf.js', import.meta.url));
const NO_KAMIWAZA = { KAMIWAZA_BASE_URL: '', KAMIWAZA_BASE_URI: '', KAMIWAZA_API_URL: '' };

let ws: Workspace;
beforeAll(async () => {
  ws = await createWorkspace(undefined, NO_KAMIWAZA);
});
afterAll(async () => {
  await ws.run(['stop', '--all']);
  await ws.cleanup();
});

const tool = (args: string[]) => promisify(execFile)(process.execPath, [TOOL, ...args], { cwd: ws.dir });

describe('make-tiny-gguf', () => {
  it.each(['f32', 'f16', 'q8_0'])('--quant %s into ./models writes a GGUF aim run loads and answers with', async (quant) => {
    const { stdout } = await tool(['./models', '--quant', quant, '--seed', '3']);
    expect(stdout.trim()).toBe(`models/tiny-llama-${quant}.gguf`);
    const record = await ws.json(['run', `./models/tiny-llama-${quant}.gguf`, '--threads', '1', '--ctx-size', '1024']);
    expect(record).toMatchObject({ quant: quant.toUpperCase(), modelPath: ws.path('models', `tiny-llama-${quant}.gguf`) });
    const reply = await fetch(`${record.endpoint}/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 3, temperature: 0 }),
    });
    expect(await reply.json()).toMatchObject({ object: 'chat.completion', usage: { completion_tokens: 3 } });
    await ws.json(['stop', record.name]);
  });

  it('writes to a ./file.gguf path as given', async () => {
    expect((await tool(['./named.gguf', '--quant', 'q8_0'])).stdout.trim()).toBe('./named.gguf');
  });

  it('refuses a quantization it cannot write', async () => {
    const failed = await tool(['./models', '--quant', 'q4_0']).catch((error: { code: number; stderr: string }) => error);
    expect(failed).toMatchObject({ code: 2 });
    expect((failed as { stderr: string }).stderr).toMatch(/--quant q4_0 is not one it writes; choose f32, f16, q8_0/);
  });
});
