// npm records in package-lock.json only the platform packages the registry served. The registry this project is
// built against lacks some packages for other platforms (Windows, macOS, ...), and `npm ci` then refuses the lock
// ("Missing: ... from lock file"). This adds an entry (version, os, cpu, optional) for every such package, so the
// lock is complete; npm skips them on other platforms without fetching. Run after `npm install` changes the lock.
import { readFileSync, writeFileSync } from 'node:fs';

const PLATFORMS = {
  'android-arm64': ['android', 'arm64'], 'darwin-arm64': ['darwin', 'arm64'], 'darwin-x64': ['darwin', 'x64'],
  'freebsd-x64': ['freebsd', 'x64'], 'linux-arm-gnueabihf': ['linux', 'arm', 'glibc'], 'linux-arm64-gnu': ['linux', 'arm64', 'glibc'],
  'linux-arm64-musl': ['linux', 'arm64', 'musl'], 'linux-ppc64-gnu': ['linux', 'ppc64', 'glibc'], 'linux-s390x-gnu': ['linux', 's390x', 'glibc'],
  'win32-arm64-msvc': ['win32', 'arm64'], 'win32-ia32-msvc': ['win32', 'ia32'], 'win32-x64-msvc': ['win32', 'x64'],
  'linux-riscv64': ['linux', 'riscv64'], 'mac-arm64-metal': ['darwin', 'arm64'], 'mac-x64': ['darwin', 'x64'],
  'win-arm64': ['win32', 'arm64'], 'win-x64': ['win32', 'x64'], 'win-x64-cuda': ['win32', 'x64'],
  'win-x64-cuda-ext': ['win32', 'x64'], 'win-x64-vulkan': ['win32', 'x64'],
};

const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'));
const packages = lock.packages;
let added = 0;
for (const [path, entry] of Object.entries(packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    if (packages[key]) continue;
    const platform = Object.keys(PLATFORMS).find((suffix) => name.endsWith(`-${suffix}`));
    if (!platform) throw new Error(`${path} wants ${name}, which is not in the lock and is no known platform package`);
    const [os, cpu, libc] = PLATFORMS[platform];
    packages[key] = { version, cpu: [cpu], ...(libc ? { libc: [libc] } : {}), optional: true, os: [os] };
    added++;
  }
}
const sorted = Object.fromEntries(Object.keys(packages).sort((a, b) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))).map((k) => [k, packages[k]]));
lock.packages = sorted;
writeFileSync('package-lock.json', `${JSON.stringify(lock, null, 2)}\n`);
console.log(`added ${added} platform entries`);
