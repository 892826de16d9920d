import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { it } from 'node:test';
import { REPO } from '../helpers/cli.ts';

it('npm run demo (the README first command) signs keyless, verifies, and catches tampering and a wrong identity', () => {
  const r = spawnSync(process.execPath, [join(REPO, 'scripts', 'demo.mjs')], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /\(IDENTITY_MISMATCH\)/);
  assert.match(r.stdout, /\(DIGEST_MISMATCH\)/);
  assert.match(r.stdout, /^Verified OK/m);
});
