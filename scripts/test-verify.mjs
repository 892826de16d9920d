// `npm run test:verify`: the verifier's tests and those of the helpers it relies on, in one process (no child per
// file), in the order below: cheap tests aimed at one module first, slow broad ones last.
//
// VOUCH_TEST_FILES (comma-separated globs) narrows the run to the tests that reach one module, for a mutation run of
// that module alone: a narrower run can only report fewer mutants killed, never more.
//
// With VOUCH_TEST_BAIL set (the mutation runs set it) the process exits at the first failing test. This cannot be a
// --test-reporter: reporters read the event stream asynchronously, and with --test-isolation=none they only see
// events once every test has run; `run()`'s stream emits each event synchronously as the test ends.
import { globSync } from 'node:fs';
import { run } from 'node:test';
import { spec } from 'node:test/reporters';

const ALL = ['test/paths.test.ts', 'test/core.test.ts', 'test/merkle.test.ts', 'test/verify/**/*.test.ts'];
const PATTERNS = process.env.VOUCH_TEST_FILES ? process.env.VOUCH_TEST_FILES.split(',') : ALL;
// Files not named here run after the named ones, in name order.
const ORDER = [
  'test/paths.test.ts',
  'test/core.test.ts',
  'test/verify/encodings.test.ts',
  'test/verify/core-helpers.test.ts',
  'test/verify/hostile.test.ts',
  'test/verify/certificates.test.ts',
  'test/verify/log-entries.test.ts',
  'test/verify/rekor2.test.ts',
  'test/merkle.test.ts',
  'test/verify/realbundles.test.ts',
  'test/verify/roundtrip.test.ts',
];
const rank = (f) => (ORDER.includes(f) ? ORDER.indexOf(f) : ORDER.length);
const files = [...new Set(PATTERNS.flatMap((p) => globSync(p)))].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : 1));

const bail = Boolean(process.env.VOUCH_TEST_BAIL);
const stream = run({ files, isolation: 'none' });
stream.on('test:fail', (data) => {
  if (data.todo !== undefined && data.todo !== false) return;
  process.exitCode = 1;
  if (bail) {
    process.stderr.write(`bail: ${data.file ?? ''} ${data.name}\n`);
    process.exit(1);
  }
});
stream.on('test:summary', (data) => {
  if (!data.success) process.exitCode = 1;
});
stream.compose(spec).pipe(process.stdout);
