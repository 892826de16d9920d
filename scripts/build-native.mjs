// Build vouch's optional native hashing core, native/hash.c -> native/build/vouch-hash.node, with the system C
// compiler (no node-gyp, no headers: hash.c declares what it uses). It must never fail a build or an install: with
// no compiler, on Windows, or on any error it prints one line and vouch hashes with its JS loop instead. Run by
// scripts/build.mjs (npm run build, npm test, prepare at npm ci) and on its own: node scripts/build-native.mjs.
import { execFileSync } from 'node:child_process';
import { mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const NATIVE_SOURCE = join(ROOT, 'native', 'hash.c');
export const NATIVE_OUTPUT = join(ROOT, 'native', 'build', 'vouch-hash.node');

/**
 * Build the addon unless it is newer than its source. Returns whether an up-to-date addon is there. The options
 * serve the tests (test/dir/native-hash.test.ts).
 */
export function buildNative({ source = NATIVE_SOURCE, output = NATIVE_OUTPUT, cc = process.env.CC || 'cc' } = {}) {
  if (process.platform === 'win32') return false;
  let sourceTime;
  try {
    sourceTime = statSync(source).mtimeMs;
  } catch {
    return false;
  }
  try {
    if (statSync(output).mtimeMs >= sourceTime) return true;
  } catch {}
  const tmp = `${output}.${process.pid}.tmp`;
  // -z now: every symbol (Node-API, OpenSSL) is resolved when the addon loads, so a node without one of them fails
  // the load (and vouch falls back) rather than a call. macOS resolves the undefined symbols at load instead.
  const link = process.platform === 'darwin' ? ['-undefined', 'dynamic_lookup'] : ['-Wl,-z,now'];
  const args = ['-O2', '-shared', '-fPIC', '-fvisibility=hidden', ...link, '-o', tmp, source, '-lpthread'];
  try {
    mkdirSync(dirname(output), { recursive: true });
    execFileSync(cc, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 120_000 });
    // Renamed into place: a process that has the old one loaded keeps its copy.
    renameSync(tmp, output);
    return true;
  } catch (e) {
    // A stale addon built from older source is not kept either.
    rmSync(tmp, { force: true });
    rmSync(output, { force: true });
    const why =
      e.code === 'ENOENT' ? `no C compiler (${cc})` : `${cc} failed: ${String(e.stderr ?? e.message).split('\n')[0]}`;
    console.log(`vouch: native hashing core not built (${why}); the JS loop hashes instead`);
    return false;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) buildNative();
