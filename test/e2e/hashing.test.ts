import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveFile, generateModel } from '../../fixtures/generate-model.js';
import { DEFAULT_CHUNKING } from '../../src/core/chunking/chunker.js';
import { LOOSE_FORMAT } from '../../src/core/store/repository.js';
import { createWorkspace, expectSameTree, type Workspace } from '../helpers/cli.js';

// Two BLAKE3 implementations must agree byte for byte: native (@napi-rs/blake-hash, the default here) and hash-wasm
// on worker threads (the fallback on platforms without a prebuilt binary, forced with AIM_HASH=wasm). Likewise the
// two chunk readers: big files are cut on workers over a ring of four 16 MiB windows (72 MiB goes round it),
// small ones inline (forced for every file with AIM_CDC=inline).
describe('data that matches the cut masks every few bytes', () => {
  // [4, 221, 92] repeated makes the rolling hash match both masks at every third byte (found by search over the
  // default gear table and masks): far more positions than the workers keep, so the big-file reader cuts those windows
  // one byte at a time. The boundaries must still be exactly those of the inline reader.
  it('cuts it exactly as the inline reader does', async () => {
    const ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
    try {
      const pattern = Buffer.alloc(40 * 1024 * 1024);
      for (let i = 0; i < pattern.length; i++) pattern[i] = [4, 221, 92][i % 3]!;
      await mkdir(ws.path('dense'));
      await writeFile(ws.path('dense', 'pattern.bin'), pattern);
      const parallel = await ws.json(['push', 'r/dense:a', 'dense']);
      const inline = await ws.json(['push', 'r/dense:b', 'dense', '--rehash'], { env: { AIM_CDC: 'inline' } });
      expect(inline.digest).toBe(parallel.digest);
      expect(parallel.chunks).toBeGreaterThan(10);
      await ws.json(['pull', 'r/dense:a', 'out']);
      await expectSameTree(ws.path('out'), ws.path('dense'));
    } finally {
      await ws.cleanup();
    }
  });
});

describe('a repository whose file head is longer than the big-file reader\'s window', () => {
  // The default 8 MiB head ends inside the reader's first 16 MiB window; a 20 MiB head (an aim-repo.json written
  // by hand) makes the head end in the second window, after a carried tail, where file offsets must still add up.
  it('cuts it exactly as the inline reader does', async () => {
    const ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
    try {
      const chunking = { ...DEFAULT_CHUNKING, head: { ...DEFAULT_CHUNKING.head!, size: 20 * 1024 * 1024 } };
      await mkdir(ws.path('repo'), { recursive: true });
      await writeFile(ws.path('repo', 'aim-repo.json'), JSON.stringify({ format: LOOSE_FORMAT, hash: 'blake3', chunking, createdAt: new Date().toISOString() }));
      await generateModel(ws.path('long-head'), { seed: 'long-head', files: [{ path: 'weights.bin', size: 40 * 1024 * 1024 }] });
      const parallel = await ws.json(['push', 'r/long:a', 'long-head']);
      const inline = await ws.json(['push', 'r/long:b', 'long-head', '--rehash'], { env: { AIM_CDC: 'inline' } });
      expect(inline.digest).toBe(parallel.digest);
      expect(parallel.chunks).toBeGreaterThan(100); // 20 MiB at about 128 KiB a chunk, then 20 MiB at about 1 MiB
    } finally {
      await ws.cleanup();
    }
  });
});

describe('many tiny files, read, cut and hashed on reader threads', () => {
  it('push to the same version as the inline read, and pull back the same bytes', async () => {
    const ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
    try {
      // Empty files, 64 KiB ones (some cut in two by the head's 16 KiB minimum), odd sizes, and one just too big to
      // be tiny, in folders.
      const sizes = Array.from({ length: 320 }, (_, i) => (i % 40 === 0 ? 0 : i % 8 === 0 ? 64 * 1024 : ((i * 997) % 8000) + 1));
      const files = sizes.map((size, i) => ({ path: `d${i % 8}/f${i}.bin`, size }));
      files.push({ path: 'edge/just-over.bin', size: 64 * 1024 + 1 });
      await generateModel(ws.path('tiny'), { seed: 'tiny-readers', files });
      const threads = await ws.run(['push', 'r/tiny:a', 'tiny', '--json', '-v', '--log-format', 'json']);
      expect(threads.code).toBe(0);
      expect(threads.stderr).toContain('tiny files read on worker threads');
      const inline = await ws.json(['push', 'r/tiny:b', 'tiny', '--rehash'], { env: { AIM_CDC: 'inline' } });
      const pushed = JSON.parse(threads.stdout);
      expect(inline.digest).toBe(pushed.digest);
      expect(pushed.chunks).toBeGreaterThan(files.filter((file) => file.size > 0).length); // some files are two chunks
      await ws.json(['pull', 'r/tiny:a', 'out']);
      await expectSameTree(ws.path('out'), ws.path('tiny'));
      // Unchanged, every file vouched for by the stat cache: no file is read, and no thread started for none.
      const again = await ws.run(['push', 'r/tiny:a', 'tiny', '--json', '-v', '--log-format', 'json']);
      expect(again.code).toBe(0);
      expect(JSON.parse(again.stdout).bytesTransferred).toBe(0);
      expect(again.stderr).not.toContain('tiny files read on worker threads');
    } finally {
      await ws.cleanup();
    }
  });
});

describe('native and WebAssembly hashing give the same repository', () => {
  let ws: Workspace;
  const wasm = { env: { AIM_HASH: 'wasm' } };

  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ native: { type: 'local', path: `${dir}/native` }, wasm: { type: 'local', path: `${dir}/wasm` } }));
    await generateModel(ws.path('v1'), { seed: 'hashing', files: [{ path: 'weights.bin', size: 72 * 1024 * 1024 }, { path: 'config.json', size: 300 }] });
    await generateModel(ws.path('v2'), { seed: 'hashing', files: [{ path: 'config.json', size: 300 }] });
    await deriveFile(ws.path('v1', 'weights.bin'), ws.path('v2', 'weights.bin'), [{ kind: 'insert', offset: 4096, length: 1024 }], 'hashing2');
  });
  afterAll(() => ws.cleanup());

  it('pushes to the same manifest digests and pulls across implementations', async () => {
    const nativeV1 = await ws.json(['push', 'native/m:v1', 'v1']);
    // Pinned: the same data must give the same manifest whatever the push pipeline does inside (reading, cutting,
    // hashing, packing), so a change there that moves a boundary or a byte of a digest fails here.
    expect(nativeV1.digest).toBe('blake3:cc5ec6b994c5abfab2f10e113e2dd0df9e367248de31a7fc610dd63b5e60168b');
    const wasmV1 = await ws.json(['push', 'wasm/m:v1', 'v1'], wasm);
    expect(wasmV1.digest).toBe(nativeV1.digest);
    const inline = await ws.json(['push', 'native/m:inline', 'v1', '--rehash'], { env: { AIM_CDC: 'inline' } });
    expect(inline.digest).toBe(nativeV1.digest);
    const inlineWasm = await ws.json(['push', 'wasm/m:inline', 'v1', '--rehash'], { env: { AIM_CDC: 'inline', AIM_HASH: 'wasm' } });
    expect(inlineWasm.digest).toBe(nativeV1.digest);
    const wasmV2 = await ws.json(['push', 'wasm/m:v2', 'v2', '--rehash'], wasm);
    expect(wasmV2.bytesTransferred).toBeLessThan(1024 * 1024);
    expect((await ws.json(['push', 'native/m:v2', 'v2'])).digest).toBe(wasmV2.digest);

    await ws.json(['pull', 'native/m:v1', 'out-wasm'], wasm);
    await ws.json(['pull', 'wasm/m:v2', 'out-wasm'], wasm);
    await expectSameTree(ws.path('out-wasm'), ws.path('v2'));
    await ws.json(['pull', 'wasm/m:v2', 'out-native']);
    await expectSameTree(join(ws.dir, 'out-native'), ws.path('v2'));
    expect((await ws.json(['verify', 'native'], wasm)).ok).toBe(true);
    expect((await ws.json(['verify', 'wasm'])).ok).toBe(true);
  });
});
