// A small pushed repository to damage: two models (`good` and `victim`, one version each) pushed once by the real
// CLI, then copied into a fresh workspace per case, beside a secret file outside it that no case may ever print.
import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { generateModel } from '../../fixtures/generate-model.js';
import { digestOf } from '../../src/core/format/digest.js';
import { createWorkspace, type Workspace } from '../helpers/cli.js';
import { runBounded } from './harness.js';

export const SECRET = 'TOP-SECRET-2b8f1c';
const KiB = 1024;

export interface Damaged {
  ws: Workspace;
  repo: string;
  path(...parts: string[]): string;
  tagFile(model: string, tag?: string): string;
  readJson(path: string): Promise<any>;
  writeJson(path: string, value: unknown): Promise<void>;
  /** Stores `bytes` as a manifest under its true digest (a hostile writer can) and points the tag at it. */
  plantManifest(model: string, bytes: Uint8Array | string): Promise<string>;
  /** The repository's index files (one per push). */
  indexFiles(): Promise<string[]>;
}

let pristine: { dir: string; cleanup(): Promise<void> } | undefined;

/** Pushes the two models once; every case starts from a copy. */
export async function buildPristine(): Promise<void> {
  const ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
  await generateModel(ws.path('src-good'), { seed: 'good', files: [{ path: 'a.bin', size: 300 * KiB }, { path: 'sub/b.txt', size: 10 * KiB }] });
  await generateModel(ws.path('src-victim'), { seed: 'victim', files: [{ path: 'c.bin', size: 200 * KiB }] });
  await ws.json(['push', 'r/good:v1', 'src-good']);
  await ws.json(['push', 'r/victim:v1', 'src-victim']);
  pristine = { dir: ws.path('repo'), cleanup: () => ws.cleanup() };
}

export async function dropPristine(): Promise<void> {
  await pristine?.cleanup();
}

export async function damagedWorkspace(): Promise<Damaged> {
  const ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
  await cp(pristine!.dir, ws.path('repo'), { recursive: true });
  await generateModel(ws.path('src'), { seed: 'fresh', files: [{ path: 'x.bin', size: 50 * KiB }] });
  await mkdir(ws.path('secret'));
  await writeFile(ws.path('secret', 'passwd'), `${SECRET}\n`);
  const repo = ws.path('repo');
  const damaged: Damaged = {
    ws,
    repo,
    path: (...parts) => join(repo, ...parts),
    tagFile: (model, tag = 'v1') => join(repo, 'models', model, 'tags', tag),
    readJson: async (path) => JSON.parse(await readFile(path, 'utf8')),
    writeJson: (path, value) => writeFile(path, JSON.stringify(value)),
    async plantManifest(model, bytes) {
      const buffer = Buffer.from(bytes);
      const digest = await digestOf(buffer);
      const hex = digest.slice('blake3:'.length);
      await mkdir(join(repo, 'manifests', 'blake3', hex.slice(0, 2)), { recursive: true });
      await writeFile(join(repo, 'manifests', 'blake3', hex.slice(0, 2), hex), buffer);
      for (const tag of ['v1', 'latest']) {
        const file = damaged.tagFile(model, tag);
        await damaged.writeJson(file, { ...(await damaged.readJson(file)), digest });
      }
      return digest;
    },
    async indexFiles() {
      const names = await readdir(join(repo, 'index'));
      expect(names.length).toBeGreaterThan(0);
      return names.map((name) => join(repo, 'index', name));
    },
  };
  return damaged;
}

/** The model `good` still lists, pulls (byte for byte) and verifies beside whatever was damaged. */
export async function expectGoodStillWorks(ctx: Damaged): Promise<void> {
  const list = await runBounded(ctx.ws, ['model', 'list', 'r', '--json']);
  expect(list.code, list.stderr).toBe(0);
  expect(list.json().models.map((m: { name: string }) => m.name)).toContain('good');
  const pull = await runBounded(ctx.ws, ['pull', 'r/good:v1', 'good-copy', '--json']);
  expect(pull.code, pull.stderr).toBe(0);
  expect((await readFile(ctx.ws.path('good-copy', 'sub', 'b.txt'))).length).toBe(10 * KiB);
  const verify = await runBounded(ctx.ws, ['verify', 'r', 'good', '--json']);
  expect(verify.code, verify.stderr).toBe(0);
  expect(verify.json().ok).toBe(true);
}
