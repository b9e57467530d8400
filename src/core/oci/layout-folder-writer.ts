import { constants } from 'node:fs';
import { mkdir, open, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { IntegrityError } from '../../lib/errors.js';
import { PLACEHOLDER, type LayoutWriter } from './export.js';
import type { NamePatch } from './tar-names.js';

// An OCI image layout written as a folder (what `skopeo copy ... oci:DIR` writes and `oras --oci-layout` reads),
// into a new private folder the caller renames into place once it is whole. An entry under the placeholder name
// (a layer whose sha256 is not known yet) is kept as `.entry-N` until rewriteNames gives it its digest.

export class LayoutFolderWriter implements LayoutWriter {
  private entries = 0;

  constructor(private readonly root: string) {}

  async addBytes(name: string, bytes: Buffer): Promise<number> {
    return this.addStream(name, bytes.length, (async function* () { yield bytes; })());
  }

  async addStream(name: string, size: number, chunks: AsyncIterable<Buffer>): Promise<number> {
    const id = this.entries++;
    const target = join(this.root, name === PLACEHOLDER ? `.entry-${id}` : name);
    await mkdir(dirname(target), { recursive: true });
    const handle = await open(target, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
    let written = 0;
    try {
      for await (const bytes of chunks) {
        await handle.write(bytes);
        written += bytes.length;
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (written !== size) throw new IntegrityError(`${name} came to ${written} bytes, its manifest says ${size}`, { hint: 'run `aim verify` on the repository' });
    return id;
  }

  /** Names each placeholder entry by its digest. */
  async rewriteNames(patches: NamePatch[]): Promise<void> {
    await mkdir(join(this.root, 'blobs', 'sha256'), { recursive: true });
    for (const patch of patches) await rename(join(this.root, `.entry-${patch.offset}`), join(this.root, patch.name));
  }

  async finish(): Promise<void> {}

  abort(): void {}
}
