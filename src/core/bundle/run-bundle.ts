// `aim run REPO/BUNDLE[:TAG]`: every member served, each as its own deployment (its own port, its own `ps` line,
// named after the member). Whether each member holds a GGUF is checked from the manifests first, so a bundle with
// a member no engine can serve (an embedder in ONNX, say) starts nothing and says which member it is.
import { UsageError } from '../../lib/errors.js';
import { runModel, type RunOptions, type RunResult } from '../serve/serve.js';
import type { Session } from '../session.js';
import type { ResolvedBundle } from '../store/bundles.js';
import type { Repository } from '../store/repository.js';
import { bundleName, memberRead } from './bundle-actions.js';

export async function runBundle(session: Session, repo: Repository, found: ResolvedBundle, options: RunOptions): Promise<RunResult[]> {
  if (options.port !== undefined) {
    throw new UsageError(`--port names one port, and bundle ${bundleName(repo, found)} serves ${found.bundle.members.length} models`, { hint: 'leave --port out: each member gets a free port (aim.serve.ports sets the range)' });
  }
  for (const member of found.bundle.members) {
    const manifest = await memberRead(repo, found, member, () => repo.getManifest(member.digest));
    if (!manifest.files.some((file) => /\.gguf$/i.test(file.path))) {
      throw new UsageError(`member ${member.model} of bundle ${bundleName(repo, found)} holds no GGUF file, so no engine can serve it`, {
        hint: `run the members that are models one by one (\`aim run ${repo.name}/MODEL@DIGEST\`; \`aim inspect ${bundleName(repo, found)}\` lists them), or pull the bundle to use the others`,
      });
    }
  }
  const results: RunResult[] = [];
  for (const member of found.bundle.members) {
    const name = options.name === undefined ? undefined : `${options.name}-${member.model}`;
    results.push(await runModel(session, `${repo.name}/${member.model}@${member.digest}`, { ...options, ...(name ? { name } : {}) }));
  }
  return results;
}
