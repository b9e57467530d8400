// What `aim inspect` shows of a version: an installed copy when there is one (read from AIM_HOME, so it works with
// the repository out of reach, like `ollama show`), else the repository's; with each GGUF variant's memory need.
import type { Digest } from '../format/digest.js';
import type { Manifest } from '../format/manifest.js';
import { parseReference } from '../format/reference.js';
import { variantsWithNeeds } from '../serve/gguf-variants.js';
import type { GgufVariant } from '../serve/quant-fit.js';
import type { Session } from '../session.js';
import { resolveVersion } from '../store/resolve.js';
import { findInstalledIfReadable, folderOf, installedManifest } from './records.js';

export interface InspectedVersion {
  repo: string;
  model: string;
  tag?: string;
  digest: Digest;
  manifest: Manifest;
  /** Where it was read: the installed copy under AIM_HOME, or the repository. */
  source: 'installed' | 'repository';
  folder?: string;
  variants: GgufVariant[];
}

export async function inspectVersion(session: Session, text: string, home: string): Promise<InspectedVersion> {
  const ref = parseReference(text);
  const installed = await findInstalledIfReadable(home, ref);
  if (installed) {
    const folder = folderOf(home, installed);
    const manifest = await installedManifest(home, installed);
    if (manifest) {
      // A subset's other variants are described from the repository when it can be reached.
      const repo = () => session.repository(ref.repo).catch(() => undefined);
      const variants = await variantsWithNeeds(manifest, { folder, digest: installed.digest, repo });
      return { repo: ref.repo, model: ref.model, tag: installed.tag, digest: installed.digest, manifest, source: 'installed', folder, variants };
    }
  }
  const repository = await session.repository(ref.repo);
  const version = await resolveVersion(repository, ref);
  const variants = await variantsWithNeeds(version.manifest, { repo: async () => repository, digest: version.digest });
  return { repo: ref.repo, model: version.model, tag: version.tag, digest: version.digest, manifest: version.manifest, source: 'repository', variants };
}
