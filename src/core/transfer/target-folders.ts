import { basename, dirname, relative, sep } from 'node:path';
import { changed, HeldFolder, withShownPaths } from '../../lib/held-folder.js';
import { realFolder } from '../../lib/safe-fs.js';

// The folders of DEST that a pull moves files into, held open (lib/held-folder.ts) from the moment each is made and
// checked until its files are in it. Every move, removal and stat of a target reaches its name through the folder
// checked, not through its path: a folder (or one above it) swapped for a link in between takes nothing outside
// DEST, and is reported once the moves are done. A version may have tens of thousands of folders, more than a process
// may hold open, so they are held a batch at a time (HELD_AT_ONCE folders, a descriptor each), and each batch is let
// go once its files are in place. DEST itself is held for the whole install.

/**
 * Folders held at once. With `.aim/fresh`'s (at most 1000) well under 4096, the kernel's default hard limit of open
 * descriptors, which Node raises its own limit to; a batch boundary costs one wait for the batch's moves.
 */
export const HELD_AT_ONCE = 512;

export class TargetFolders {
  /** The batch's folders, keyed by path (DEST itself is `root`), as they are being made and held. */
  private readonly held = new Map<string, Promise<HeldFolder>>();
  /** The batch's folders held so far. */
  private readonly ready = new Map<string, HeldFolder>();
  /** Every folder held by this install, DEST's folders that got new names among them. */
  private readonly everHeld = new Set<string>();

  private constructor(
    private readonly dest: string,
    readonly root: HeldFolder,
  ) {}

  /**
   * Makes DEST if it is missing, and holds it. With `aim` (DEST/.aim, held since the pull began), DEST must still be the
   * folder holding it: DEST's own name swapped for a link meanwhile (by anyone who can write where DEST lies) would
   * otherwise take every move to wherever the link leads, outside the folder the pull was given.
   */
  static async open(dest: string, aim?: HeldFolder): Promise<TargetFolders> {
    await realFolder(dest, [], { create: true });
    const root = HeldFolder.open(dest, []);
    try {
      if (aim && !root.holds(aim)) throw changed(aim.path); // DEST/.aim: moved away, or DEST on its way replaced
    } catch (error) {
      root.close();
      throw error;
    }
    return new TargetFolders(dest, root);
  }

  /** Makes `folder` (DEST or a folder in it; each folder on the way a real one) and holds it, once per batch. */
  hold(folder: string): Promise<HeldFolder> {
    if (folder === this.dest) return Promise.resolve(this.root);
    let held = this.held.get(folder);
    if (!held) {
      const parts = relative(this.dest, folder).split(sep).filter(Boolean);
      held = realFolder(this.dest, parts, { create: true })
        .then(() => HeldFolder.open(this.dest, parts))
        .then((opened) => (this.ready.set(folder, opened), opened));
      this.held.set(folder, held);
      this.everHeld.add(folder);
    }
    return held;
  }

  /** How this process reaches `path` (a name in DEST): through the folder it lies in, held by the batch. */
  at(path: string): string {
    const folder = dirname(path);
    const held = folder === this.dest ? this.root : this.ready.get(folder);
    if (!held) throw new Error(`${folder} is not held by this batch`);
    return held.at(basename(path));
  }

  /** Every folder this install made or checked and held (DEST aside). */
  get all(): string[] {
    return [...this.everHeld];
  }

  /**
   * Runs `work` on `items` a batch at a time, with the folders `foldersOf` each item needs held (`ready` runs once the
   * first batch's are, before any work); then checks that each is still at its path (ConflictError, exit 5) and lets
   * the batch go. A failure names the user's paths, not the held ones (which mean nothing once the folders are let go).
   */
  async inBatches<T>(items: T[], foldersOf: (item: T) => string[], work: (batch: T[]) => Promise<void>, ready?: () => void): Promise<void> {
    for (const [index, batch] of batches(items, foldersOf).entries()) {
      try {
        await Promise.all(batch.folders.map((folder) => this.hold(folder)));
        if (index === 0) ready?.();
        await work(batch.items);
        this.expectStillThere();
      } catch (error) {
        throw withShownPaths(error);
      } finally {
        await this.letGo();
      }
    }
  }

  /** Throws the ConflictError for DEST or the first folder of the batch no longer at its path (moved, or a link put there). */
  expectStillThere(): void {
    this.root.expectStillThere();
    for (const held of this.ready.values()) held.expectStillThere();
  }

  /** Closes the batch's folders, once every one being made is. */
  private async letGo(): Promise<void> {
    const held = await Promise.allSettled(this.held.values());
    this.held.clear();
    this.ready.clear();
    for (const folder of held) if (folder.status === 'fulfilled') folder.value.close();
  }

  /** Lets go of every folder, DEST too. */
  async close(): Promise<void> {
    await this.letGo();
    this.root.close();
  }
}

/** `items` grouped by the first folder each needs (`foldersOf`), cut into runs that need at most HELD_AT_ONCE folders each. */
function batches<T>(items: T[], foldersOf: (item: T) => string[]): Array<{ items: T[]; folders: string[] }> {
  const all: Array<{ items: T[]; folders: string[] }> = [];
  let batch = { items: [] as T[], folders: new Set<string>() };
  const byFolder = items.map((item) => ({ item, folders: foldersOf(item) })).sort((a, b) => (a.folders[0]! < b.folders[0]! ? -1 : a.folders[0]! > b.folders[0]! ? 1 : 0));
  for (const { item, folders } of byFolder) {
    const more = folders.filter((folder) => !batch.folders.has(folder)).length;
    if (batch.items.length > 0 && batch.folders.size + more > HELD_AT_ONCE) {
      all.push({ items: batch.items, folders: [...batch.folders] });
      batch = { items: [], folders: new Set() };
    }
    batch.items.push(item);
    for (const folder of folders) batch.folders.add(folder);
  }
  if (batch.items.length > 0) all.push({ items: batch.items, folders: [...batch.folders] });
  return all;
}
