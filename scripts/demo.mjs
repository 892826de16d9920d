// `npm run demo`: the main job on the embedded default, as a user runs it. In a temporary folder (its own
// VOUCH_HOME, so nothing of yours is touched): sign a release keyless with the local development identity, verify
// it against that identity, then show a flipped byte and a wrong identity both caught.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const bin = resolve(import.meta.dirname, '..', 'bin', 'vouch.mjs');
const work = mkdtempSync(join(tmpdir(), 'vouch-demo-'));
const env = { ...process.env, VOUCH_HOME: join(work, 'vouch-home') };
delete env.SIGSTORE_ID_TOKEN;
delete env.ACTIONS_ID_TOKEN_REQUEST_URL;
let failures = 0;

function step(title, args, expectStatus, { quiet = false } = {}) {
  process.stdout.write(`\n$ vouch ${args.map((a) => (/\s/.test(a) ? `'${a}'` : a)).join(' ')}\n`);
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: work, env, encoding: 'utf8' });
  if (!quiet) process.stdout.write(r.stdout);
  process.stdout.write(r.stderr);
  const ok = r.status === expectStatus;
  if (!ok) failures++;
  process.stdout.write(`  -> ${title}: exit ${r.status} ${ok ? '(as expected)' : `(EXPECTED ${expectStatus})`}\n`);
  return r;
}

try {
  writeFileSync(join(work, 'app.exe'), `MZ vouch demo release ${new Date().toISOString()}\n`.repeat(1000));
  process.stdout.write(`Demo folder: ${work}\n`);
  process.stdout.write(
    'No key, no configuration: vouch starts its embedded trust stack (CA, log, timestamp authority,\n',
  );
  process.stdout.write('local OIDC issuer) in-process and signs with your local development identity.\n');
  const signed = step('sign the release, keyless', ['sign', 'app.exe', '--json'], 0, { quiet: true });
  let identity = '';
  let issuer = '';
  try {
    const out = JSON.parse(signed.stdout);
    identity = out.identity;
    issuer = out.issuer;
    process.stdout.write(
      `  signed by ${identity} (issuer ${issuer}), log index ${out.logIndex}, bundle ${out.bundlePath}\n`,
    );
  } catch {
    failures++;
  }
  const policy = ['--certificate-identity', identity, '--certificate-oidc-issuer', issuer];
  step('verify it and who signed it', ['verify', 'app.exe', ...policy], 0);
  step(
    'a wrong identity is caught',
    ['verify', 'app.exe', '--certificate-identity', `x${identity}`, '--certificate-oidc-issuer', issuer],
    1,
  );
  const bytes = readFileSync(join(work, 'app.exe'));
  bytes[bytes.length >> 1] ^= 0x01;
  writeFileSync(join(work, 'app.exe'), bytes);
  process.stdout.write('\n(flipped one bit in the middle of app.exe)\n');
  step('tampering is caught', ['verify', 'app.exe', ...policy], 1);

  process.stdout.write('\nA whole release folder, the way 3CX shipped: a signed exe beside the DLLs it loads.\n');
  mkdirSync(join(work, 'release', 'lib'), { recursive: true });
  writeFileSync(join(work, 'release', 'app.exe'), 'MZ the application\n');
  writeFileSync(join(work, 'release', 'lib', 'ffmpeg.dll'), 'MZ the real ffmpeg\n');
  step('sign the directory', ['sign', 'dir:release'], 0);
  step('verify every file of it', ['verify', 'dir:release', ...policy], 0);
  writeFileSync(join(work, 'release', 'lib', 'ffmpeg.dll'), 'MZ ffmpeg + a loader for an encrypted payload\n');
  writeFileSync(join(work, 'release', 'lib', 'd3dcompiler_47.dll'), 'MZ payload\n');
  process.stdout.write('\n(replaced lib/ffmpeg.dll and dropped a new DLL beside it)\n');
  step('a poisoned and an added DLL are caught', ['verify', 'dir:release', ...policy], 1);
} finally {
  rmSync(work, { recursive: true, force: true });
}
process.stdout.write(
  failures === 0
    ? '\nDemo OK: signed keyless, verified the signer; tampering, a wrong identity and a poisoned release folder caught.\n'
    : `\nDemo FAILED: ${failures} step(s) did not behave.\n`,
);
process.exitCode = failures === 0 ? 0 : 1;
