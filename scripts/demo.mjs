// `npm run demo`: the main job on the embedded default, as a user runs it. In a temporary folder: sign a small
// release, verify it and who signed it, then show tampering (one flipped byte) and a wrong signer being caught.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const bin = resolve(import.meta.dirname, '..', 'bin', 'vouch.mjs');
const work = mkdtempSync(join(tmpdir(), 'vouch-demo-'));
const env = { ...process.env, VOUCH_PASSWORD: 'demo passphrase', VOUCH_HOME: join(work, 'home') };
let failures = 0;

function step(title, args, expectStatus) {
  process.stdout.write(`\n$ vouch ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: work, env, encoding: 'utf8' });
  process.stdout.write(r.stdout);
  process.stdout.write(r.stderr);
  const ok = r.status === expectStatus;
  if (!ok) failures++;
  process.stdout.write(`  -> ${title}: exit ${r.status} ${ok ? '(as expected)' : `(EXPECTED ${expectStatus})`}\n`);
  return r;
}

try {
  writeFileSync(join(work, 'app.exe'), `MZ vouch demo release ${new Date().toISOString()}\n`.repeat(1000));
  process.stdout.write(`Demo folder: ${work}\n`);
  step('a release key pair', ['keygen', '--out', 'release'], 0);
  step('sign the release', ['sign', 'app.exe', '--key', 'release.key'], 0);
  step('verify it', ['verify', 'app.exe', '--key', 'release.pub'], 0);
  step('another key', ['keygen', '--out', 'attacker'], 0);
  step('a wrong signer is caught', ['verify', 'app.exe', '--key', 'attacker.pub'], 1);
  const bytes = readFileSync(join(work, 'app.exe'));
  bytes[bytes.length >> 1] ^= 0x01;
  writeFileSync(join(work, 'app.exe'), bytes);
  process.stdout.write('\n(flipped one bit in the middle of app.exe)\n');
  step('tampering is caught', ['verify', 'app.exe', '--key', 'release.pub'], 1);
} finally {
  rmSync(work, { recursive: true, force: true });
}
process.stdout.write(
  failures === 0
    ? '\nDemo OK: signed, verified, tampering and a wrong signer caught.\n'
    : `\nDemo FAILED: ${failures} step(s) did not behave.\n`,
);
process.exitCode = failures === 0 ? 0 : 1;
