#!/usr/bin/env node
// The vouch CLI. dist/cli/main.mjs is the bundled CLI (one file plus lazily loaded chunks: fast cold start).
const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  process.stderr.write(`vouch: error (USAGE): Node.js ${process.versions.node} is too old; vouch needs Node.js 22 or later\n`);
  process.exit(2);
}
// Node 22 flags node:sqlite (the log's and the instance lock's store) as experimental and prints a warning on every
// keyless command; vouch pins the API it uses and tests it on each supported Node, so that one warning is dropped
// here. Every other warning still prints.
const emitWarning = process.emitWarning;
process.emitWarning = function (warning, ...rest) {
  const type = typeof rest[0] === 'string' ? rest[0] : rest[0]?.type;
  const text = typeof warning === 'string' ? warning : warning?.message;
  const name = typeof warning === 'string' ? type : (warning?.name ?? type);
  if (name === 'ExperimentalWarning' && /^SQLite is an experimental feature/.test(String(text))) return;
  return emitWarning.call(this, warning, ...rest);
};
// V8's on-disk code cache (Node 22.1+): later runs skip compiling the CLI's modules, a third of a cold start.
// Best effort: an unwritable cache folder just means no cache.
try {
  (await import('node:module')).enableCompileCache?.();
} catch {}
(await import('./quiet-warnings.mjs')).quietSqliteWarning();
let mod;
try {
  mod = await import('../dist/cli/main.mjs');
} catch (e) {
  if (e?.code === 'ERR_MODULE_NOT_FOUND') {
    process.stderr.write('vouch: error (INTERNAL): vouch is not built; run `npm run build`\n');
    process.exit(70);
  }
  throw e;
}
process.exitCode = await mod.main(process.argv.slice(2));
// The command has its answer, printed. A request a library left open past vouch's deadline (the AWS SDK's
// credential sources open sockets of their own, which vouch cannot bound, only stop waiting for) must not hold the
// process: once the output is flushed, whatever is left gets a short grace, then the process exits. The timer is
// unref'd, so a process with nothing left exits at once, as before.
const flushed = (s) => (s.writableLength > 0 ? new Promise((r) => s.once('drain', r)) : undefined);
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
setTimeout(() => process.exit(), 1000).unref();
