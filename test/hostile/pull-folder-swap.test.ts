// A folder of DEST/.aim swapped for a symbolic link while a pull is using it. The swap happens at a real point of the
// pull: a `sync` program put ahead of the real one on PATH, which the pull runs once its small files are written and
// before it renames any into place (lib/sync-file-system.ts). The link leads to a folder outside DEST holding
// different bytes under the same names. Each case fails if the pull takes anything through the link (bytes from
// outside under DEST's final names, a link renamed into DEST, a file moved out of the outside folder) or ends
// without refusing.
import { cp, lstat, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeRandomFile } from '../../fixtures/generate-model.js';
import { digestOf } from '../../src/core/format/digest.js';
import { createWorkspace, listFiles, type Workspace } from '../helpers/cli.js';
import { expectRefused, expectUnchanged, snapshot } from './harness.js';

/** A `sync` that first runs `swap` (a shell line), then the real `sync`. */
async function swappingSync(folder: string, swap: string): Promise<NodeJS.ProcessEnv> {
  await mkdir(folder, { recursive: true });
  const script = ['#!/bin/sh', 'set -e', swap, `PATH='${process.env.PATH}' exec sync "$@"`];
  await writeFile(join(folder, 'sync'), `${script.join('\n')}\n`, { mode: 0o755 });
  return { PATH: `${folder}:${process.env.PATH}` };
}

/** Each file under `folder` (links not followed) rewritten with other bytes of the same size. */
async function spoil(folder: string): Promise<void> {
  for (const path of await listFiles(folder, { includeAim: true })) {
    const file = join(folder, ...path.split('/'));
    await writeFile(file, Buffer.alloc((await readFile(file)).length, 0x41));
  }
}

describe('a folder of DEST/.aim swapped for a link during a pull', () => {
  let ws: Workspace;
  let model: string;

  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
    model = ws.path('model');
    for (let i = 0; i < 60; i++) await writeRandomFile(join(model, 'configs', `d${i % 3}`, `f${i}.json`), 10 + i * 37, `swap:${i}`);
    for (let i = 0; i < 5; i++) await writeRandomFile(join(model, `top${i}.txt`), 100 + i, `swap:top:${i}`);
    await ws.json(['model', 'push', 'r', 'm', model, '--tag', 'v1']);
  });
  afterAll(() => ws.cleanup());

  /** What DEST holds under final names: no link anywhere, and each file byte for byte the model's. */
  async function expectNothingForeign(dest: string): Promise<void> {
    // (.aim is the planted link itself in one case: what the pull must not have used, not one it made.)
    for (const name of (await readdir(dest)).filter((name) => name !== '.aim')) expect((await lstat(join(dest, name))).isSymbolicLink(), `${name} in DEST`).toBe(false);
    for (const path of await listFiles(dest)) expect((await readFile(join(dest, path))).equals(await readFile(join(model, path))), path).toBe(true);
  }

  it('.aim/partial: the renames into place do not take the files the link leads to', async () => {
    const dest = ws.path('dest-partial');
    const outside = ws.path('outside-partial');
    // Under each partial's name (its content's digest), other bytes of the same size.
    await mkdir(outside);
    for (let i = 0; i < 5; i++) {
      const bytes = await readFile(join(model, `top${i}.txt`));
      await writeFile(join(outside, (await digestOf(bytes)).slice(7)), Buffer.alloc(bytes.length, 0x41));
    }
    const partial = join(dest, '.aim', 'partial');
    const env = await swappingSync(ws.path('bin-partial'), `mv '${partial}' '${partial}-moved' && ln -s '${outside}' '${partial}'`);
    const before = await snapshot(outside);
    const message = await expectRefused(ws, ['model', 'pull', 'r', 'm', dest, '--tag', 'v1'], /changed while aim was using it/, undefined, { env });
    expect(message).toMatch(/\.aim\/partial/);
    await expectNothingForeign(dest);
    await expectUnchanged(outside, before);
  });

  it('.aim itself: neither the renames nor the writes of manifest.json and state.json go through the link', async () => {
    const dest = ws.path('dest-aim');
    const outside = ws.path('outside-aim');
    await mkdir(join(outside, 'partial'), { recursive: true });
    for (let i = 0; i < 5; i++) {
      const bytes = await readFile(join(model, `top${i}.txt`));
      await writeFile(join(outside, 'partial', (await digestOf(bytes)).slice(7)), Buffer.alloc(bytes.length, 0x41));
    }
    const aim = join(dest, '.aim');
    // The real .aim is moved away whole (the pull holds it: what it writes there afterwards is its own), a link put in its place.
    const env = await swappingSync(ws.path('bin-aim'), `mv '${aim}' '${ws.path('moved-aim')}' && ln -s '${outside}' '${aim}'`);
    const before = await snapshot(outside);
    const message = await expectRefused(ws, ['model', 'pull', 'r', 'm', dest, '--tag', 'v1'], /changed while aim was using it/, undefined, { env });
    // Refused before the first move into DEST: DEST no longer holds the .aim the pull holds.
    expect(message).toContain(`${aim} changed`);
    await expectNothingForeign(dest);
    await expectUnchanged(outside, before);
  });

  it('.aim/fresh/<folder>: the folder renamed into DEST is never the link', async () => {
    const dest = ws.path('dest-fresh');
    const outside = ws.path('outside-fresh');
    await cp(join(model, 'configs'), join(outside, 'configs'), { recursive: true });
    await spoil(outside);
    const fresh = join(dest, '.aim', 'fresh', 'configs');
    const env = await swappingSync(ws.path('bin-fresh'), `mv '${fresh}' '${fresh}-moved' && ln -s '${outside}/configs' '${fresh}'`);
    const before = await snapshot(outside);
    const message = await expectRefused(ws, ['model', 'pull', 'r', 'm', dest, '--tag', 'v1'], /changed while aim was using it/, undefined, { env });
    expect(message).toMatch(/\.aim\/fresh\/configs/);
    await expectNothingForeign(dest);
    await expectUnchanged(outside, before);
  });
});

