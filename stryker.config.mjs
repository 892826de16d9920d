// Mutation testing of the security-critical code (issue 16): `npm run mutate`, or one file while working on it:
// `npx stryker run --mutate src/verify/tsa.ts`. The command runner runs `npm run test:verify` once per mutant;
// every mutant must make a test fail, or be marked equivalent in the source with a comment that says why.
// String and object literal mutants are left out: they change messages and option bags, not verdicts.
export default {
  testRunner: 'command',
  commandRunner: { command: 'VOUCH_TEST_BAIL=1 npm run test:verify' },
  mutate: [
    'src/verify/*.ts',
    'src/core/merkle.ts',
    'src/core/json.ts',
    'src/core/encoding.ts',
    'src/core/pattern.ts',
    'src/artifact/dir/paths.ts',
  ],
  mutator: { excludedMutations: ['StringLiteral', 'ObjectLiteral'] },
  coverageAnalysis: 'off',
  concurrency: 2,
  timeoutMS: 30000,
  reporters: ['json', 'clear-text', 'progress'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  clearTextReporter: { allowColor: false, logTests: false },
  ignorePatterns: ['dist', 'native/build', '.vouch-test', 'reports', 'bench', 'docs'],
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
