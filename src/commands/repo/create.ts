import { resolve } from 'node:path';
import { Command, Option } from 'clipanion';
import { createRepository } from '../../core/config/repo-create.js';
import { UsageError } from '../../lib/errors.js';
import { awsRegion } from '../../settings/s3.js';
import { AimCommand } from '../base.js';

export class RepoCreateCommand extends AimCommand {
  static override paths = [['repo', 'create']];
  static override usage = Command.Usage({
    category: 'Repositories',
    description: 'add a repository to model_repos.yaml',
    details: `
      Writes the nearest model_repos.yaml (or --config / AIM_CONFIG), creating it in the current folder when none
      exists; comments and order of an existing file are kept. A local folder is created if missing. S3
      credentials never go in the file: they come from the AWS SDK's usual chain (env, profile, role).
    `,
    examples: [
      ['A folder on an NFS mount', '$0 repo create my-repo --type local --path /mnt/nfs/models'],
      ['An S3 bucket', '$0 repo create team-vision --type s3 --path s3://my-company-ai-models/vision --region us-east-1'],
      ['An S3-compatible server', '$0 repo create lab --type s3 --path s3://models/lab --region us-east-1 --endpoint http://minio.local:9000'],
      ['A folder with a file per chunk (no packs)', '$0 repo create plain --type local --path /srv/models --no-packs'],
      ['A repository folder published read-only by a web server', '$0 repo create mirror --type http --url https://models.example.com/repo/'],
    ],
  });

  name = Option.String({ name: 'NAME' });
  type = Option.String('--type', 'local', { description: 'local (a folder, also NFS), s3, or http (read-only, served by a web server)' });
  location = Option.String('--path', { description: 'folder path, or s3://bucket/prefix' });
  url = Option.String('--url', { description: 'http: URL of the published repository folder' });
  region = Option.String('--region', { description: 's3: the bucket region (default: AWS_REGION, else us-east-1)' });
  endpoint = Option.String('--endpoint', { description: 's3: URL of an S3-compatible server (MinIO, Ceph, R2, ...)' });
  profile = Option.String('--profile', { description: 's3: AWS profile to use (never the keys themselves)' });
  packs = Option.Boolean('--packs', {
    description: 'store chunks in ~16 MiB packs, read back with byte ranges (default: on; --no-packs keeps a file per chunk; takes effect at the first push)',
  });

  protected override configMayBeNew = true; // it writes the file --config names

  async run(): Promise<void> {
    if (this.type !== 'local' && this.type !== 's3' && this.type !== 'http') {
      throw new UsageError(`--type ${this.type} is not supported`, { hint: 'use --type local, s3 or http' });
    }
    refuseOtherTypesOptions(this.type, {
      '--path': this.location,
      '--url': this.url,
      '--region': this.region,
      '--endpoint': this.endpoint,
      '--profile': this.profile,
      [this.packs === false ? '--no-packs' : '--packs']: this.packs,
    });
    const option = this.type === 'http' ? '--url' : '--path';
    if ((this.type === 'http' ? this.url : this.location) === undefined) {
      throw new UsageError(`--type ${this.type} needs ${option}`, { hint: `add ${option}, see \`aim repo create --help\`` });
    }
    const session = await this.session();
    if (this.type === 'http') {
      const published = { name: this.name, type: 'http' as const, path: this.url!, url: this.url! };
      const { config: written } = await createRepository(session.config, published);
      this.report({ ...published, config: written }, () => `repository ${this.name} (http, read-only, ${published.url}) added to ${written}`);
      return;
    }
    // An empty --path stays empty, so the loader's check refuses it instead of it naming the current folder.
    const repo =
      this.type === 'local'
        ? { name: this.name, type: 'local' as const, path: this.location! && keptOrResolved(this.location!), packs: this.packs }
        : { name: this.name, type: 's3' as const, path: this.location!, region: this.region ?? awsRegion() ?? 'us-east-1', endpoint: this.endpoint, profile: this.profile, packs: this.packs };
    const { config: filepath } = await createRepository(session.config, repo);
    this.report({ ...repo, config: filepath }, () => `repository ${this.name} (${repo.type}, ${repo.path}) added to ${filepath}`);
  }
}

/** The options each --type takes: one given for another type would be dropped from the file without a word. */
const OPTIONS_OF: Record<'local' | 's3' | 'http', string[]> = {
  local: ['--path', '--packs', '--no-packs'],
  s3: ['--path', '--region', '--endpoint', '--profile', '--packs', '--no-packs'],
  http: ['--url'],
};

/** A usage error naming the first option given that `type` does not take (`--path` for http, where --url is meant). */
function refuseOtherTypesOptions(type: 'local' | 's3' | 'http', given: Record<string, unknown>): void {
  const stray = Object.keys(given).find((option) => given[option] !== undefined && !OPTIONS_OF[type].includes(option));
  if (stray === undefined) return;
  const takers = Object.entries(OPTIONS_OF).filter(([, options]) => options.includes(stray)).map(([name]) => name);
  const instead = type === 'http' && stray === '--path' ? 'give the address of the published folder with --url URL' : `leave out ${stray}`;
  throw new UsageError(`--type ${type} takes no ${stray} (it is for --type ${takers.join(' and ')})`, { hint: instead });
}

/**
 * A relative --path is written resolved against the current folder; `~/models` (`--path=~/models`, which no shell
 * expands) is written as given, and the loader reads it under the home folder of whoever uses the file.
 */
function keptOrResolved(path: string): string {
  return path === '~' || path.startsWith('~/') ? path : resolve(path);
}
