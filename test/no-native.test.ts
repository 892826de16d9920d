/**
 * vouch installs with --ignore-scripts and ships no native code (CONVENTIONS habit 13): no compiled addon may be
 * committed, and checkouts made while the old native core existed still hold its build in native/build/.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { it } from 'node:test';

const REPO = join(import.meta.dirname, '..');

it('the repository tracks no native addon and no native/ folder', () => {
  const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: REPO, encoding: 'utf8' }).split('\0');
  const native = tracked.filter((f) => f.startsWith('native/') || f.endsWith('.node'));
  assert.deepEqual(native, [], 'remove them: git rm --cached -r native');
});
