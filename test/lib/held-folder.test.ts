// A folder held open (src/lib/held-folder.ts): names in it are reached through the folder itself, so a folder on the
// way swapped for a link after the check takes nothing elsewhere. Each case fails if a create, rename or listing
// goes through the link, or if a folder that changed before it was held is taken.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConflictError } from '../../src/lib/errors.js';
import { HeldFolder, shownPath } from '../../src/lib/held-folder.js';
import { builtModule, canHideProc, runWithoutProc } from '../helpers/without-proc.js';

describe('a held folder', () => {
  let dir: string;
  const held: HeldFolder[] = [];
  const hold = (folder: HeldFolder) => (held.push(folder), folder);

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aim-held-'));
    await mkdir(join(dir, 'dest', '.aim', 'partial'), { recursive: true });
    await mkdir(join(dir, 'outside'));
  });
  afterEach(async () => {
    for (const folder of held.splice(0)) folder.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Moves DEST/.aim aside (within DEST) and puts a link to the outside folder in its place. */
  async function swapDotAim(): Promise<void> {
    await rename(join(dir, 'dest', '.aim'), join(dir, 'dest', '.aim-moved'));
    await mkdir(join(dir, 'outside', 'partial'));
    await symlink(join(dir, 'outside'), join(dir, 'dest', '.aim'));
  }

  it('creates, renames and lists in the folder it holds after a folder on the way became a link', async () => {
    const partials = hold(HeldFolder.open(join(dir, 'dest'), ['.aim', 'partial']));
    await swapDotAim();
    await writeFile(partials.at('new'), 'mine', { flag: 'wx' });
    await rename(partials.at('new'), partials.at('renamed'));
    expect(await readdir(partials.via)).toEqual(['renamed']);
    expect(await readFile(join(dir, 'dest', '.aim-moved', 'partial', 'renamed'), 'utf8')).toBe('mine');
    expect(await readdir(join(dir, 'outside', 'partial'))).toEqual([]);
    expect(() => partials.expectStillThere()).toThrow(ConflictError);
  });

  it('makes and holds a folder inside it through itself', async () => {
    const fresh = hold(HeldFolder.open(join(dir, 'dest'), ['.aim', 'partial']));
    const child = hold(fresh.child('configs', true));
    await swapDotAim();
    await writeFile(child.at('f.json'), '{}');
    expect(existsSync(join(dir, 'dest', '.aim-moved', 'partial', 'configs', 'f.json'))).toBe(true);
    expect(child.isAt(join(dir, 'dest', '.aim-moved', 'partial', 'configs'))).toBe(true);
    await symlink(join(dir, 'outside'), join(dir, 'dest', '.aim-moved', 'partial', 'planted'));
    expect(() => fresh.child('planted')).toThrow(ConflictError);
  });

  it('refuses to hold a folder whose path leads through a link, or is one', async () => {
    await swapDotAim();
    expect(() => HeldFolder.open(join(dir, 'dest'), ['.aim', 'partial'])).toThrow(ConflictError);
    await symlink(join(dir, 'outside'), join(dir, 'dest', 'linked'));
    expect(() => HeldFolder.open(join(dir, 'dest'), ['linked'])).toThrow(ConflictError);
  });

  it('takes a root that lies behind a link: the user chose it', async () => {
    await symlink(join(dir, 'dest'), join(dir, 'dest-link'));
    const partials = hold(HeldFolder.open(join(dir, 'dest-link'), ['.aim', 'partial']));
    expect(partials.isAt(join(dir, 'dest', '.aim', 'partial'))).toBe(true);
  });

  it('holds a root that is a link the user made, and reports it once the link leads elsewhere', async () => {
    await symlink(join(dir, 'dest'), join(dir, 'dest-link'));
    const root = hold(HeldFolder.open(join(dir, 'dest-link'), []));
    await writeFile(root.at('top.json'), '{}');
    expect(existsSync(join(dir, 'dest', 'top.json'))).toBe(true);
    expect(() => root.expectStillThere()).not.toThrow();
    await rm(join(dir, 'dest-link'));
    await symlink(join(dir, 'outside'), join(dir, 'dest-link'));
    expect(() => root.expectStillThere()).toThrow(ConflictError);
  });

  it('tells whether a folder it holds still lies in it, whatever the paths lead to', async () => {
    await symlink(join(dir, 'dest'), join(dir, 'dest-link'));
    const aim = hold(HeldFolder.open(join(dir, 'dest-link'), ['.aim']));
    expect(hold(HeldFolder.open(join(dir, 'dest-link'), [])).holds(aim)).toBe(true);
    // DEST moved away and its name made a link to another folder: the root held through it holds no .aim of the pull's.
    await rename(join(dir, 'dest'), join(dir, 'dest-moved'));
    await rm(join(dir, 'dest-link'));
    await mkdir(join(dir, 'outside', '.aim'));
    await symlink(join(dir, 'outside'), join(dir, 'dest-link'));
    expect(hold(HeldFolder.open(join(dir, 'dest-link'), [])).holds(aim)).toBe(false);
    expect(hold(HeldFolder.open(join(dir, 'dest-moved'), [])).holds(aim)).toBe(true);
  });

  it('names its files by the folder path in messages', () => {
    const partials = hold(HeldFolder.open(join(dir, 'dest'), ['.aim', 'partial']));
    expect(shownPath(partials.at('abc'))).toBe(join(dir, 'dest', '.aim', 'partial', 'abc'));
    expect(shownPath('/elsewhere/x')).toBe('/elsewhere/x');
  });
});

// Without /proc, names go through the folder's path, and what is checked is checked right after each open: every
// folder on the way a real one, and the one at the path the one held. Run where /proc is hidden.
describe.runIf(canHideProc)('a held folder without /proc', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aim-held-noproc-'));
    await mkdir(join(dir, 'dest', '.aim', 'partial'), { recursive: true });
    await mkdir(join(dir, 'outside', 'partial'), { recursive: true });
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  /** Runs `steps` (statements using `HeldFolder`, `dest`, `outside`, `fs`, and `outcome(f)`, which records whether `f` throws). */
  async function withoutProc(steps: string): Promise<unknown[]> {
    const script = `
      import * as fs from 'node:fs';
      import { HeldFolder } from ${JSON.stringify(builtModule('lib/held-folder.js'))};
      const dest = ${JSON.stringify(join(dir, 'dest'))}, outside = ${JSON.stringify(join(dir, 'outside'))};
      const results = [];
      const outcome = (f) => { try { const value = f(); results.push(value === undefined ? 'ok' : value); } catch (error) { results.push(error.constructor.name + (error.exitCode === undefined ? '' : ' ' + error.exitCode)); } };
      ${steps}
      console.log(JSON.stringify(results));`;
    return JSON.parse(await runWithoutProc(script));
  }

  it('reaches names by the path, and holds only a folder whose path leads through no link', async () => {
    const results = await withoutProc(`
      const partials = HeldFolder.open(dest, ['.aim', 'partial']);
      outcome(() => partials.via === partials.path);
      fs.writeFileSync(partials.at('f'), 'mine');
      outcome(() => fs.readFileSync(dest + '/.aim/partial/f', 'utf8'));
      fs.renameSync(dest + '/.aim', dest + '/.aim-moved');
      fs.symlinkSync(outside, dest + '/.aim');
      outcome(() => HeldFolder.open(dest, ['.aim', 'partial']));
      outcome(() => partials.child('configs', true));
      outcome(() => partials.expectStillThere());`);
    expect(results).toEqual([true, 'mine', 'ConflictError 5', 'ConflictError 5', 'ConflictError 5']);
  });

  it('holds a root that is a link the user made, and reports it once the link leads elsewhere', async () => {
    const results = await withoutProc(`
      fs.symlinkSync(dest, dest + '-link');
      const root = HeldFolder.open(dest + '-link', []);
      outcome(() => root.expectStillThere());
      fs.rmSync(dest + '-link');
      fs.symlinkSync(outside, dest + '-link');
      outcome(() => root.expectStillThere());`);
    expect(results).toEqual(['ok', 'ConflictError 5']);
  });
});
