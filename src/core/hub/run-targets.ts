// The two kinds of `aim run` target that name no aim repository: a Hugging Face address (hf.co/ORG/REPO[:QUANT],
// huggingface.co/..., with or without https://) and a GGUF file on local disk, served where it is. A link the user
// gave is followed once and its target must be a regular file: a chain of links or a link to a device is refused.
import { lstat, readdir, readlink } from 'node:fs/promises';
import { basename, dirname, isAbsolute, resolve } from 'node:path';
import { NotFoundError, UsageError } from '../../lib/errors.js';
import { ggufShardName } from '../../serving/gguf-shard-name.js';
import { REPO_ID } from './hub-api.js';

export interface HubAddress {
  hfRepo: string;
  quant?: string;
}

const HUB_ADDRESS = /^(?:https?:\/\/)?(?:www\.)?(?:hf\.co|huggingface\.co)\/([^:\s]+?)\/?(?::([A-Za-z0-9_.-]+))?$/i;

const HUB_HOST = /^(?:https?:\/\/)?(?:www\.)?(?:hf\.co|huggingface\.co)\//i;

/** hf.co/ORG/REPO[:QUANT] as an address, or undefined when `text` is not one. */
export function parseHubAddress(text: string): HubAddress | undefined {
  const match = HUB_ADDRESS.exec(text);
  // `hf.co/` or `hf.co/ORG/REPO:` is a hub address gone wrong, not a REPO/MODEL reference to an aim repository.
  if (!match && !HUB_HOST.test(text)) return undefined;
  const hfRepo = match?.[1];
  if (hfRepo === undefined || !REPO_ID.test(hfRepo)) {
    throw new UsageError(`"${text}" does not name a Hugging Face repository`, { hint: 'write hf.co/ORG/REPO or hf.co/ORG/REPO:QUANT, e.g. hf.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF:q8_0' });
  }
  return { hfRepo, quant: match![2]?.toLowerCase() };
}

/**
 * Whether `text` is meant as a file path rather than a name or a reference: an absolute or ./ path always; a name
 * ending in .gguf only when something is there, since `team/model.gguf` may also be a REPO/MODEL reference.
 */
export async function looksLikeFile(text: string, cwd = process.cwd()): Promise<boolean> {
  if (isAbsolute(text) || text.startsWith('./') || text.startsWith('../')) return true;
  return /\.gguf$/i.test(text) && (await lstat(resolve(cwd, text)).catch(() => undefined)) !== undefined;
}

export interface LocalModelFile {
  /** The folder holding the file (the link's target folder when the user gave a link). */
  folder: string;
  /** The file's name and, for a split GGUF, every shard's name in the folder. */
  names: string[];
  /** The absolute path the user named, for messages. */
  given: string;
}

/** The regular file `text` names, after following at most one link. */
export async function localModelFile(text: string, cwd = process.cwd()): Promise<LocalModelFile> {
  const given = resolve(cwd, text);
  const first = await lstat(given).catch(() => undefined);
  if (!first) throw new NotFoundError(`${given} does not exist`, { hint: 'give the path of a .gguf file, e.g. aim run ./model-q8_0.gguf' });
  const path = first.isSymbolicLink() ? resolve(dirname(given), await readlink(given)) : given;
  const info = first.isSymbolicLink() ? await lstat(path).catch(() => undefined) : first;
  if (!info?.isFile()) {
    throw new UsageError(`${given} is not a regular file${first.isSymbolicLink() ? ` (it links to ${path}, which is ${info ? 'not a regular file' : 'missing'})` : ''}`, {
      hint: 'give the path of a .gguf file; a link must point straight at one',
    });
  }
  const folder = dirname(path);
  const split = ggufShardName(basename(path));
  const names = split ? (await readdir(folder)).filter((n) => ggufShardName(n)?.prefix === split.prefix) : [basename(path)];
  return { folder, names, given };
}
