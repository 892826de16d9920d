// Node 22 announces node:sqlite (the log store of `vouch serve` and of the embedded instance) as experimental on
// every keyless command. That line tells a vouch user nothing they can act on, and vouch's store is tested on every
// supported Node version, so the CLI drops exactly that warning; every other warning is printed as usual. The
// library does not do this: a program that embeds vouch decides about its own process.
export function quietSqliteWarning(proc = process) {
  const emit = proc.emitWarning;
  proc.emitWarning = function emitWarning(warning, ...rest) {
    const type = typeof rest[0] === 'string' ? rest[0] : rest[0]?.type;
    const name = type ?? (typeof warning === 'object' ? warning?.name : undefined);
    const text = typeof warning === 'string' ? warning : warning?.message;
    if (name === 'ExperimentalWarning' && /^SQLite is an experimental feature/.test(String(text))) return;
    return emit.call(proc, warning, ...rest);
  };
}
