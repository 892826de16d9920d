/** Issue 17: the CLI's output stays clean on Node 22, where node:sqlite announces itself as experimental. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { it } from 'node:test';
import { REPO } from './helpers/cli.ts';

// In a child process, so this test's own process keeps Node's warning machinery untouched.
const script = `
import { quietSqliteWarning } from ${JSON.stringify(join(REPO, 'bin', 'quiet-warnings.mjs'))};
quietSqliteWarning();
process.emitWarning('SQLite is an experimental feature and might change at any time', 'ExperimentalWarning');
process.emitWarning('SQLite is an experimental feature and might change at any time', { type: 'ExperimentalWarning' });
process.emitWarning('Something else is an experimental feature', 'ExperimentalWarning');
process.emitWarning('SQLite is an experimental feature', 'DeprecationWarning');
`;

it("drops Node 22's SQLite ExperimentalWarning and no other warning", () => {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stderr.split('\n').filter((l) => /Warning:/.test(l));
  assert.equal(lines.length, 2, r.stderr);
  assert.match(lines[0]!, /ExperimentalWarning: Something else/);
  assert.match(lines[1]!, /DeprecationWarning: SQLite/);
});
