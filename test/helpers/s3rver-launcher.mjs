// Runs s3rver in its own process (see test/helpers/s3-server.ts). Must run under `node --openssl-legacy-provider`:
// s3rver 3.7.1 encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3 only offers from the legacy
// provider; without it every paginated listing answers 500.
// Usage: node --openssl-legacy-provider s3rver-launcher.mjs <directory> <bucket>
// Prints one JSON line {"port": N} on stdout once the bucket exists, then serves until killed.
import S3rver from 's3rver';

const [directory, bucket] = process.argv.slice(2);
const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  directory,
  silent: true,
  configureBuckets: [{ name: bucket }],
});
const { port } = await server.run();
process.stdout.write(`${JSON.stringify({ port })}\n`);
const stop = () => server.close().finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// The parent closes our stdin when it goes away (even when it is killed), so a crashed test run leaves no server.
process.stdin.on('end', stop);
process.stdin.resume();
