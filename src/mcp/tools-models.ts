// The MCP tools over repositories: list repositories, models and versions, search them, inspect a version, pull one
// into a folder.
// Each calls the same core function as its CLI command. An agent is another party with its own ideas of where to
// write: a pull lands only inside the folder the server was started for (--root), never through a link on the way.
import { resolve } from 'node:path';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import * as z from 'zod';
import { StorageError, UsageError } from '../lib/errors.js';
import { isInside } from '../lib/path-within.js';
import { checkModelName, checkRepoName } from '../core/format/names.js';
import { searchCatalogs } from '../core/catalog/search.js';
import { parseReference } from '../core/format/reference.js';
import { listModelSummaries, listVersions, type ModelSummary } from '../core/store/model-listing.js';
import { trustPolicyFor } from '../core/config/trust-policy.js';
import { resolveVersion } from '../core/store/resolve.js';
import { pull } from '../core/transfer/pull.js';
import type { Session } from '../core/session.js';
import { answer, progressNotifications } from './results.js';

export interface ToolContext {
  /** A fresh session per call: the user may edit model_repos.yaml while the server runs. */
  session(): Promise<Session>;
  /** The folder pulls may write into. */
  root: string;
}

const reference = z.string().max(512).describe('REPO/MODEL[:TAG|@blake3:HEX], e.g. team/qwen2.5-7b:v1');
export const requireSigned = z.boolean().optional().describe('refuse a version no trusted key signed, even where the user\'s trust policy does not ask (default: the policy decides)');
const replaceUsersFiles = z
  .boolean()
  .optional()
  .describe('replace files and folders at the version\'s paths that aim did not put there or that changed since (the user\'s own); without it such a pull is refused with exit code 5 and nothing changes (default: false)');
const readOnly = { readOnlyHint: true, openWorldHint: false };

/** DEST in the root or below it (relative to it, or absolute within it); anything reaching outside is refused. */
export function destinationWithin(root: string, dest: string): string {
  // A NUL makes every file system call throw a TypeError (an internal error); other controls are no folder name.
  if (/[\u0000-\u001f\u007f]/.test(dest)) {
    throw new UsageError(`destination ${JSON.stringify(dest)} holds a control character, which no folder name needs`, {
      hint: `give a plain folder inside ${root}, e.g. models/NAME`,
    });
  }
  const full = resolve(root, dest);
  if (full !== root && !isInside(root, full)) {
    throw new UsageError(`destination ${dest} is outside the folder this server may write to (${root})`, {
      hint: `give a folder inside ${root}, e.g. models/NAME, or start \`aim mcp --root DIR\` on another folder`,
    });
  }
  return full;
}

type ListedModel = { repo: string } & ModelSummary;

async function modelsOf(context: ToolContext, repo: string | undefined): Promise<Record<string, unknown>> {
  const session = await context.session();
  const names = repo !== undefined ? [checkRepoName(repo)] : session.config.repositories.map((r) => r.name);
  const models: ListedModel[] = [];
  const problems: Array<{ repo: string; key: string; message: string }> = [];
  for (const name of names) {
    try {
      const listing = await listModelSummaries(await session.repository(name));
      models.push(...listing.models.map((m) => ({ repo: name, ...m })));
      problems.push(...listing.problems.map((p) => ({ repo: name, ...p })));
    } catch (error) {
      // Over every repository, one that cannot be reached is a problem of that one; asked for by name, the error.
      if (repo !== undefined || !(error instanceof StorageError)) throw error;
      problems.push({ repo: name, key: '', message: error.message });
    }
  }
  return { models, problems };
}

export function registerModelTools(server: McpServer, context: ToolContext): void {
  server.registerTool('list_repositories', {
    title: 'List repositories', description: 'The repositories configured in model_repos.yaml (local folders and S3 buckets).', annotations: readOnly,
  }, () => answer(async () => {
    const { config } = await context.session();
    const repositories = config.repositories.map(({ name, type, path, region, endpoint }) => ({ name, type, path, region, endpoint }));
    return { config: config.filepath ?? null, repositories };
  }));

  server.registerTool('list_models', {
    title: 'List models', description: 'The models in one repository, or in every repository when none is named, with their tags and latest version.',
    inputSchema: { repo: z.string().max(128).optional().describe('repository name (default: all)') }, annotations: readOnly,
  }, ({ repo }) => answer(() => modelsOf(context, repo)));

  server.registerTool('list_versions', {
    title: 'List versions', description: 'The versions (tags) of a model, oldest first, with digest, file count, size and push time.',
    inputSchema: { repo: z.string().max(128), model: z.string().max(128) }, annotations: readOnly,
  }, ({ repo, model }) => answer(async () => {
    const session = await context.session();
    return { ...(await listVersions(await session.repository(checkRepoName(repo)), checkModelName(model))) };
  }));

  server.registerTool('inspect', {
    title: 'Inspect a version', description: 'A version\'s digest, files (path, size, digest, chunk count), total size and annotations.',
    inputSchema: { reference }, annotations: readOnly,
  }, ({ reference: text }) => answer(async () => {
    const ref = parseReference(text);
    const version = await resolveVersion(await (await context.session()).repository(ref.repo), ref);
    const files = version.manifest.files.map((f) => ({ path: f.path, size: f.size, mode: f.mode, digest: f.digest, chunks: f.chunks.length }));
    const totalBytes = files.reduce((sum, f) => sum + f.size, 0);
    return { repo: ref.repo, model: version.model, tag: version.tag ?? null, digest: version.digest, totalBytes, files, annotations: version.manifest.annotations };
  }));

  server.registerTool('search', {
    title: 'Search models', description: 'Models of every configured repository matching a query (name, description, annotations, quantization, architecture), best first.',
    inputSchema: {
      query: z.string().min(1).max(256),
      arch: z.string().max(64).optional().describe('only this GGUF architecture (llama, qwen2, ...)'),
      quant: z.string().max(64).optional().describe('only models offering this quantization (Q4_K_M, Q8_0, ...)'),
      max_size: z.number().int().min(0).optional().describe('only models whose newest version is at most this many bytes'),
      repos: z.array(z.string().max(128)).max(64).optional().describe('only these repositories (default: all)'),
    },
    annotations: readOnly,
  }, (args) => answer(async () => {
    const result = await searchCatalogs(await context.session(), args.query, { arch: args.arch, quant: args.quant, maxSize: args.max_size, repos: args.repos });
    return { ...result, hits: result.hits.map(({ repo, reference, score, match, entry }) => ({ repo, reference, score, match, ...entry })) };
  }));

  server.registerTool('pull', {
    title: 'Pull a version', description: 'Download a version into a folder (inside the folder the server was started for), verified chunk by chunk, refused when the user\'s trust policy asks for a signature it lacks, or when the folder holds files of the user\'s at the version\'s paths (unless force); resumes an interrupted pull. Sends progress notifications when given a progress token.',
    inputSchema: { reference, dest: z.string().min(1).max(4096).describe('destination folder, relative to the server\'s root folder'), require_signed: requireSigned, force: replaceUsersFiles },
    // Destructive only with `force`: without it nothing but what aim itself put in the folder is ever replaced.
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  }, ({ reference: text, dest, require_signed, force }, extra) => {
    const progress = progressNotifications(extra);
    return answer(async () => {
      const ref = parseReference(text);
      const target = destinationWithin(context.root, dest);
      const session = await context.session();
      const repository = await session.repository(ref.repo);
      // The user's trust policy binds an agent as it binds the CLI: an unsigned version never lands in DEST.
      const trust = await trustPolicyFor(session.config, ref.repo, require_signed);
      // As the CLI without --force: a file of the user's at one of the version's paths stops the pull (exit 5).
      return { ...(await pull(repository, ref, target, { progress, within: context.root, trust, force, onLockWait: (line) => progress.note(line) })) };
    }, progress);
  });
}
