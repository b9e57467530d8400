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
    ],
  });

  name = Option.String({ name: 'NAME' });
  type = Option.String('--type', 'local', { description: 'local (a folder, also NFS) or s3' });
  location = Option.String('--path', { required: true, description: 'folder path, or s3://bucket/prefix' });
  region = Option.String('--region', { description: 's3: the bucket region (default: AWS_REGION, else us-east-1)' });
  endpoint = Option.String('--endpoint', { description: 's3: URL of an S3-compatible server (MinIO, Ceph, R2, ...)' });
  profile = Option.String('--profile', { description: 's3: AWS profile to use (never the keys themselves)' });
  packs = Option.Boolean('--packs', {
    description: 'store chunks in ~16 MiB packs, read back with byte ranges (default: on; --no-packs keeps a file per chunk; takes effect at the first push)',
  });

  protected override configMayBeNew = true; // it writes the file --config names

  async run(): Promise<void> {
    if (this.type !== 'local' && this.type !== 's3') {
      throw new UsageError(`--type ${this.type} is not supported`, { hint: 'use --type local or --type s3' });
    }
    const session = await this.session();
    // An empty --path stays empty, so the loader's check refuses it instead of it naming the current folder.
    const repo =
      this.type === 'local'
        ? { name: this.name, type: 'local' as const, path: this.location && resolve(this.location), packs: this.packs }
        : { name: this.name, type: 's3' as const, path: this.location, region: this.region ?? awsRegion() ?? 'us-east-1', endpoint: this.endpoint, profile: this.profile, packs: this.packs };
    const { config: filepath } = await createRepository(session.config, repo);
    this.report({ ...repo, config: filepath }, () => `repository ${this.name} (${repo.type}, ${repo.path}) added to ${filepath}`);
  }
}
