// Writes the per-file scores of the last mutation run (reports/mutation/mutation.json, mutation-testing-report
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
const total = { killed: 0, survived: 0, ignored: 0 };
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
  total.killed += killed;
  total.survived += survived;
  total.ignored += ignored;
  rows.push([file, killed, survived, ignored]);
}
const pct = (k, s) => (k + s === 0 ? '-' : `${((100 * k) / (k + s)).toFixed(1)}%`);
const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
const date = new Date().toISOString().slice(0, 10);
const table = [
  `Last run: ${date}, commit \`${commit}\` (\`npm run mutate\`).`,
  '',
  '| file | killed | survived | equivalent (disabled) | score |',
  '| --- | ---: | ---: | ---: | ---: |',
  ...rows.map(([f, k, s, i]) => `| \`${f}\` | ${k} | ${s} | ${i} | ${pct(k, s)} |`),
  `| all | ${total.killed} | ${total.survived} | ${total.ignored} | ${pct(total.killed, total.survived)} |`,
].join('\n');

const doc = readFileSync(DOC, 'utf8');
const from = doc.indexOf(BEGIN);
const to = doc.indexOf(END);
if (from < 0 || to < from) throw new Error(`${DOC} lacks the ${BEGIN} / ${END} markers`);
writeFileSync(DOC, `${doc.slice(0, from + BEGIN.length)}\n${table}\n${doc.slice(to)}`);
process.stdout.write(`${table}\n`);
