/**
 * The only module that knows about argv, output formats and exit statuses. Commands are plain functions
 * (commands/*.ts) loaded lazily so a cold `vouch verify` pays only for what it runs.
 */
import { Command, CommanderError, Option } from 'commander';
import { EXIT, VouchError } from '../errors.ts';
import { formatError, formatSign } from './format.ts';

interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

const defaultIo: Io = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
  let json = false;
  let status: number = EXIT.ok;
  const run = async (asJson: boolean | undefined, fn: () => Promise<string | object>) => {
    json = Boolean(asJson);
    const result = await fn();
    if (typeof result === 'string') io.out(result);
    else io.out(`${JSON.stringify(result, null, 2)}\n`);
  };

  const program = new Command('vouch')
    .description('Sign releases with the identity you already have; verify who signed them, offline.')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: () => {} })
    .showHelpAfterError(false);

  program
    .command('keygen')
    .description('generate a key pair: PREFIX.key (encrypted PKCS#8, mode 0600) and PREFIX.pub (SPKI PEM)')
    .option('--out <prefix>', 'output path prefix', 'vouch')
    .addOption(new Option('--type <type>', 'key type').choices(['ecdsa-p256', 'ed25519']).default('ecdsa-p256'))
    .option('--force', 'overwrite existing key files')
    .option('--json', 'print the result as JSON')
    .action(async (o) =>
      run(o.json, async () => {
        const { keygen } = await import('./commands/keygen.ts');
        const r = await keygen({ out: o.out, type: o.type, force: o.force });
        return o.json
          ? r
          : `Wrote ${r.privateKey} and ${r.publicKey}\nfingerprint sha256:${r.fingerprint} (${r.type})\n`;
      }),
    );

  program
    .command('sign')
    .description('sign a target (file:PATH, a bare path, or - for stdin)')
    .argument('<target>', 'what to sign')
    .option('--key <file>', 'private key (key-pair signing); without it signing is keyless')
    .option('--bundle <path>', 'where to write the bundle (default: TARGET.sigstore.json)')
    .option('--json', 'print the result as JSON')
    .action(async (target: string, o) =>
      run(o.json, async () => {
        const { sign } = await import('./commands/sign.ts');
        const r = await sign(target, o);
        return o.json ? r : formatSign(r);
      }),
    );

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (caught) {
    let e = caught;
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.exitCode === 0) return EXIT.ok;
      e = new VouchError('USAGE', e.message.replace(/^error: /, ''));
    }
    const err =
      e instanceof VouchError
        ? e
        : new VouchError('INTERNAL', `unexpected error: ${(e as Error)?.message ?? e}`, { cause: e });
    if (json) io.out(`${JSON.stringify({ verified: false, error: err.toJSON() }, null, 2)}\n`);
    io.err(formatError(err));
    if (process.env.VOUCH_DEBUG && err.cause) io.err(`${String((err.cause as Error).stack ?? err.cause)}\n`);
    status = err.exitStatus;
  }
  return status;
}
