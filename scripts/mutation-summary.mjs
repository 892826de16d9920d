// Writes the per-file scores of a mutation run (reports/mutation/mutation.json, mutation-testing-report
// schema) into docs/testing.md between its two markers, with the date and the commit the run was made on.
// Score = detected / (detected + undetected): killed and timed-out mutants are detected, survivors and mutants no
// test reached are not; mutants that do not compile, that the configuration leaves out and that the source marks
// equivalent are not counted in the score (the last ones are listed apart).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const REPORT = process.argv[2] ?? 'reports/mutation/mutation.json';
const DOC = 'docs/testing.md';
const BEGIN = '<!-- mutation-summary:begin -->';
const END = '<!-- mutation-summary:end -->';

const report = JSON.parse(readFileSync(REPORT, 'utf8'));
const rows = [];
for (const [file, { mutants }] of Object.entries(report.files).sort(([a], [b]) => (a < b ? -1 : 1))) {
  let killed = 0;
  let survived = 0;
  let ignored = 0;
  for (const m of mutants) {
    if (m.status === 'Killed' || m.status === 'Timeout') killed++;
    else if (m.status === 'Survived' || m.status === 'NoCoverage') survived++;
    // Ignored: left out by the configuration (string and object literals, not counted) or disabled in the source
    // with a comment saying why it is equivalent.
    else if (m.status === 'Ignored' && !String(m.statusReason).startsWith('Ignored because of excluded mutation')) {
      ignored++;
    }
  }
  rows.push([file, killed, survived, ignored]);
}
const pct = (k, s) => (k + s === 0 ? '-' : `${((100 * k) / (k + s)).toFixed(1)}%`);
// The commit the run was made on: HEAD unless given (a summary written after committing the tests it led to).
const commit =
  process.env.MUTATION_COMMIT ?? execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
const date = new Date().toISOString().slice(0, 10);
const tests = process.env.VOUCH_TEST_FILES ? `, tests \`${process.env.VOUCH_TEST_FILES}\`` : '';
const run = `${date}, \`${commit}\`${tests}`;

// Runs are made one file at a time: a file's row is replaced by its latest run, the other rows are kept.
const doc = readFileSync(DOC, 'utf8');
const from = doc.indexOf(BEGIN);
const to = doc.indexOf(END);
if (from < 0 || to < from) throw new Error(`${DOC} lacks the ${BEGIN} / ${END} markers`);
const kept = new Map();
for (const line of doc.slice(from, to).split('\n')) {
  const m = /^\| `([^`]+)` \| (.*) \| (\d+) \| (\d+) \| (\d+) \| [^|]+ \|$/.exec(line);
  if (m) kept.set(m[1], [m[2], Number(m[3]), Number(m[4]), Number(m[5])]);
}
for (const [f, k, s, i] of rows) kept.set(f, [run, k, s, i]);
const table = [
  'Each file is run on its own (`npx stryker run --mutate FILE`, with the tests named when not all of',
  "`npm run test:verify`); a row gives the latest run of its file. After a run of the survivors' lines alone, the",
  'counts are those of the whole-file run for the other lines and of the second run for those lines.',
  '',
  '| file | run | killed | survived | equivalent (disabled) | score |',
  '| --- | --- | ---: | ---: | ---: | ---: |',
  ...[...kept]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([f, [r, k, s, i]]) => `| \`${f}\` | ${r} | ${k} | ${s} | ${i} | ${pct(k, s)} |`),
].join('\n');
const rest = doc.slice(to);
writeFileSync(DOC, `${doc.slice(0, from + BEGIN.length)}\n${table}\n${rest}`);
process.stdout.write(`${table}\n`);
