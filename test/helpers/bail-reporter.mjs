// A node:test reporter that ends the run at the first failing test when VOUCH_TEST_BAIL is set. Mutation testing
// runs the whole verify suite once per mutant; a mutant is killed by its first failure, so the rest is waste.
export default async function* bail(source) {
  for await (const event of source) {
    if (event.type === 'test:fail' && process.env.VOUCH_TEST_BAIL) {
      process.stderr.write(`bail: ${event.data.name}\n`);
      process.exit(1);
    }
  }
  yield '';
}
