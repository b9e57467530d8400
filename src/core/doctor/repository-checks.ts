// `aim doctor` on each configured repository: S3 credentials present, reachable, writable (a probe object written
// and deleted), a format this aim reads, and for S3 the clock against the server's (a request signed more than
// 15 minutes off is refused by S3 as RequestTimeTooSkewed).
import { randomUUID } from 'node:crypto';
import { openBackend, type Backend } from '../../backends/index.js';
import { s3Settings } from '../../settings/s3.js';
import type { RepoConfig } from '../config/config.js';
import { Repository } from '../store/repository.js';
import { fail, failureOf, ok, warn, within, type Finding } from './finding.js';

const NETWORK_MS = 20_000;
/** S3 refuses requests signed this far off its clock. */
const MAX_SKEW_MS = 15 * 60_000;
/** Past this, say so before it becomes a refusal. */
const WARN_SKEW_MS = 60_000;

async function credentialsFinding(repo: RepoConfig): Promise<Finding> {
  const check = `repo ${repo.name} credentials`;
  const { createS3Client } = await import('../../backends/s3/s3-client.js');
  const client = createS3Client(repo, s3Settings());
  try {
    const credentials = await within(NETWORK_MS, 'the AWS credential chain', client.config.credentials());
    return ok(check, `AWS credentials found (access key ${credentials.accessKeyId.slice(0, 4)}…)`);
  } catch (error) {
    const why = error instanceof Error ? error.message.split('\n')[0] : String(error);
    return fail(check, `no AWS credentials found for ${repo.path} (${why})`,
      repo.profile ? `check that profile "${repo.profile}" exists in ~/.aws/credentials or ~/.aws/config` : 'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE naming a profile in ~/.aws/credentials');
  } finally {
    client.destroy();
  }
}

/** The server's clock from the Date header of any reply (an unsigned HEAD is answered too, if only with 403). */
async function clockFinding(repo: RepoConfig): Promise<Finding> {
  const check = `repo ${repo.name} clock`;
  const url = repo.endpoint ?? `https://s3.${repo.region ?? 'us-east-1'}.amazonaws.com`;
  try {
    const sent = Date.now();
    const reply = await fetch(url, { method: 'HEAD', signal: AbortSignal.timeout(NETWORK_MS) });
    const received = Date.now();
    await reply.body?.cancel();
    const server = Date.parse(reply.headers.get('date') ?? '');
    if (Number.isNaN(server)) return warn(check, `${url} sent no Date header to compare clocks with`);
    // The header has whole seconds and was stamped somewhere between sending and receiving.
    const skew = (sent + received) / 2 - server;
    const text = `${Math.abs(Math.round(skew / 1000))} s ${skew >= 0 ? 'ahead of' : 'behind'} ${url}`;
    const hint = 'sync the clock (timedatectl set-ntp true, or chronyd/ntpd)';
    if (Math.abs(skew) > MAX_SKEW_MS) return fail(check, `this clock is ${text}: S3 refuses requests signed more than 15 minutes off`, hint);
    if (Math.abs(skew) > WARN_SKEW_MS + 1000) return warn(check, `this clock is ${text}`, hint);
    return ok(check, `clock within ${Math.max(1, Math.round(Math.abs(skew) / 1000))} s of ${url}`);
  } catch (error) {
    return warn(check, `cannot compare clocks with ${url}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** A probe object written and deleted: access bits can say yes where a read-only mount, a quota or a policy says no. */
async function writableFinding(repo: RepoConfig, backend: Backend): Promise<Finding> {
  const check = `repo ${repo.name} writable`;
  const key = `.aim-doctor-${randomUUID()}`;
  try {
    await within(NETWORK_MS, backend.location, backend.put(key, Buffer.from('aim doctor write probe\n')));
    await within(NETWORK_MS, backend.location, backend.delete(key));
    return ok(check, `a probe object was written to ${backend.location} and deleted`);
  } catch (error) {
    return failureOf(check, error, 'check permissions (or the bucket policy) and that the storage is not read-only or full');
  }
}

async function formatFinding(repo: RepoConfig, backend: Backend): Promise<Finding> {
  const check = `repo ${repo.name} format`;
  try {
    const metadata = await within(NETWORK_MS, backend.location, new Repository(repo.name, backend).metadata());
    if (!metadata) return ok(check, 'no aim-repo.json yet: the first push creates it');
    const { minSize, avgSize, maxSize } = metadata.chunking;
    return ok(check, `format ${metadata.format}, chunks ${minSize}/${avgSize}/${maxSize} bytes`);
  } catch (error) {
    return failureOf(check, error);
  }
}

export async function repositoryFindings(repo: RepoConfig): Promise<Finding[]> {
  const findings: Finding[] = [];
  if (repo.type === 's3') {
    const credentials = await credentialsFinding(repo);
    findings.push(credentials, await clockFinding(repo));
    if (credentials.status === 'fail') return findings;
  }
  let backend: Backend | undefined;
  try {
    backend = await openBackend(repo);
    await within(NETWORK_MS, backend.location, backend.probe('read'));
    findings.push(ok(`repo ${repo.name} reachable`, `${backend.location} answers`));
    findings.push(await writableFinding(repo, backend), await formatFinding(repo, backend));
  } catch (error) {
    findings.push(failureOf(`repo ${repo.name} reachable`, error));
  } finally {
    await backend?.close?.();
  }
  return findings;
}
