/**
 * The only module that knows about argv, output formats and exit statuses. Commands are plain functions
 * (commands/*.ts) loaded lazily so a cold `vouch verify` pays only for what it runs.
 */
import { Command, CommanderError, Option } from 'commander';
import { EXIT, VouchError } from '../errors.ts';
import type { LoginUi } from '../identity/login.ts';
import { PROVIDER_NAMES, type ProviderName } from '../identity/provider.ts';
import { formatError, formatSign } from './format.ts';
import { type ProgressFn, progressBar } from './io.ts';

interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

const defaultIo: Io = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

/** Directory options shared by sign and verify: a progress bar when a person watches a terminal. */
function dirOptions(o: { json?: boolean; format?: string; incremental?: boolean | string }) {
  const out: { format?: 'vouch' | 'model-signing'; incremental?: boolean | string; onProgress?: ProgressFn } = {};
  if (o.format === 'vouch' || o.format === 'model-signing') out.format = o.format;
  if (o.incremental !== undefined) out.incremental = o.incremental;
  if (!o.json && process.stderr.isTTY) out.onProgress = progressBar();
  return out;
}

/** `--identity-provider`: force one token source (names of src/identity/provider.ts). */
function identityProviderOption(): Option {
  return new Option('--identity-provider <name>', 'keyless: take the token from this provider only').choices([
    ...PROVIDER_NAMES,
  ]);
}

/** The token choices of sign and whoami, as the session takes them. */
function identityOptions(o: {
  identityToken?: string;
  identityTokenFile?: string;
  identityProvider?: ProviderName;
  identityAudience?: string;
}) {
  return {
    ...(o.identityToken !== undefined ? { identityToken: o.identityToken } : {}),
    ...(o.identityTokenFile !== undefined ? { identityTokenFile: o.identityTokenFile } : {}),
    ...(o.identityProvider !== undefined ? { identityProvider: o.identityProvider } : {}),
    ...(o.identityAudience !== undefined ? { audience: o.identityAudience } : {}),
  };
}

/** How a sign-in talks to the person: the URL or code on stderr, and a browser where one can show. */
function loginUi(io: Io): LoginUi {
  return {
    showUrl: (url) => io.err(`To sign in, open this URL in a browser on this machine:\n  ${url}\n`),
    openBrowser: async (url) => {
      const { openBrowser } = await import('./browser.ts');
      const opened = await openBrowser(url);
      if (!opened) io.err('(no browser here: open the URL above, or run again with --device)\n');
      return opened;
    },
    showDeviceCode: (p) =>
      io.err(
        `To sign in, open ${p.verificationUriComplete ?? p.verificationUri} and enter the code ${p.userCode} (valid ${Math.round(p.expiresInSeconds / 60)} min)\n`,
      ),
  };
}

export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
  let json = false;
  const verifying = argv[0] === 'verify';
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
    .description(
      'sign a target (file:PATH, dir:PATH, a bare path, - for stdin, sha256:HEX, oci:REF, oci-layout:DIR, oci-archive:TAR, docker-archive:TAR)',
    )
    .argument('<target>', 'what to sign')
    .option('--key <file>', 'private key (key-pair signing); without it signing is keyless')
    .option('--bundle <path>', 'where to write the bundle (default: TARGET.sigstore.json)')
    .option(
      '--instance <url|name>',
      'keyless: a `vouch serve` URL, `public-good` or `embedded` (default: config, else embedded)',
    )
    .option('--identity-token <jwt>', 'keyless: the OIDC identity token to sign with')
    .option('--identity-token-file <file>', 'keyless: read the identity token from this file')
    .addOption(identityProviderOption())
    .option('--identity-audience <aud>', 'keyless: token audience to ask providers for (default sigstore)')
    .option('--device', 'keyless: sign in with the device flow if a login is needed')
    .option('--repository <name>', 'images: the repository a local image is signed for (REGISTRY/NAME)')
    .option('--recursive', 'images: also sign every platform manifest of an index')
    .option('--allow-insecure-registry', 'images: plain HTTP to a registry that is not on loopback')
    .addOption(
      new Option('--format <format>', 'directories: manifest format')
        .choices(['vouch', 'model-signing'])
        .default('vouch'),
    )
    .option('--incremental [cache]', 'directories: reuse digests of unchanged files (cache kept outside the tree)')
    .option('--allow-pe-anomaly <path...>', 'PE files: sign this file despite an Authenticode anomaly (recorded)')
    .option('--json', 'print the result as JSON')
    .action(async (target: string, o) =>
      run(o.json, async () => {
        if (!o.key) {
          const { signKeyless } = await import('./commands/keyless.ts');
          const r = await signKeyless(target, {
            ...(o.bundle !== undefined ? { bundle: o.bundle } : {}),
            ...(o.instance !== undefined ? { instance: o.instance } : {}),
            ...identityOptions(o),
            ...(o.repository !== undefined ? { repository: o.repository } : {}),
            ...(o.recursive ? { recursive: true } : {}),
            ...(o.allowInsecureRegistry ? { allowInsecureRegistry: true } : {}),
            ...(o.allowPeAnomaly ? { allowPeAnomaly: o.allowPeAnomaly } : {}),
            ...dirOptions(o),
            // A person at a terminal may sign in interactively; scripts and CI jobs never wait for one.
            ...(process.stdin.isTTY && process.stderr.isTTY
              ? { interactive: { ui: loginUi(io), device: Boolean(o.device) } }
              : {}),
          });
          return o.json ? r : formatSign(r);
        }
        const { sign } = await import('./commands/sign.ts');
        const r = await sign(target, { ...o, ...dirOptions(o) });
        return o.json ? r : formatSign(r);
      }),
    );

  program
    .command('verify')
    .description('verify a target against its bundle, a key or an identity')
    .argument('<target>', 'file:PATH, a bare path, sha256:HEX, - for stdin, or an image (oci:REF, oci-layout:DIR...)')
    .option('--bundle <path>', 'the bundle (default: TARGET.sigstore.json; images: the signatures in the registry)')
    .option('--key <file>', 'public key that must have signed (key-pair bundles)')
    .option('--certificate-identity <id>', 'exact signer identity (email or URI)')
    .option('--certificate-identity-regexp <re>', 'signer identity as a regular expression (always anchored)')
    .option('--certificate-oidc-issuer <url>', 'exact OIDC issuer of the identity')
    .option('--certificate-oidc-issuer-regexp <re>', 'OIDC issuer as a regular expression (always anchored)')
    .option('--trusted-root <file>', 'Sigstore trusted root JSON to trust instead of the trust store')
    .option('--path <path>', 'check one file against a directory signature: its path inside the directory')
    .option('--platform <os/arch>', 'images: verify this platform of an index (a signed index covers it)')
    .option('--repository <name>', 'images: the repository a local image must be signed for')
    .option('--allow-repository <name...>', 'images: also accept signatures made for these repositories')
    .option('--unsafe-allow-any-repository', 'images: accept a signature made for any repository (digest only)')
    .option('--allow-insecure-registry', 'images: plain HTTP to a registry that is not on loopback')
    .option('--pe-strict', 'PE files: also refuse data hidden around the Authenticode signature or a broken one')
    .option('--authenticode-roots <file>', 'PE files (--pe-strict): PEM CA certificates Authenticode must chain to')
    .option('--allow-pe-anomaly <path...>', 'PE files (--pe-strict): accept this file despite an anomaly (recorded)')
    .option('--json', 'print the result as JSON')
    .action(async (target: string, o) =>
      run(o.json, async () => {
        const [{ verify }, { formatVerify }] = await Promise.all([
          import('./commands/verify.ts'),
          import('./format-verify.ts'),
        ]);
        if (o.unsafeAllowAnyRepository)
          io.err('vouch: warning: --unsafe-allow-any-repository: the repository is not checked\n');
        const r = await verify(target, { ...o, ...dirOptions(o) });
        return o.json ? r : formatVerify(r);
      }),
    );

  program
    .command('inspect')
    .description('what a file carries: PE files (kind, Authenticode digest, signer, chain, timestamp, anomalies)')
    .argument('<file>', 'the file to inspect (its kind is read from its content)')
    .option('--authenticode-roots <file>', 'PEM CA certificates Authenticode chains and timestamps are checked against')
    .option('--json', 'print the result as JSON')
    .action(async (file: string, o) =>
      run(o.json, async () => {
        const { inspect, formatInspect } = await import('./commands/inspect.ts');
        const r = await inspect(file, o);
        return o.json ? r : formatInspect(r);
      }),
    );

  program
    .command('serve')
    .description(
      'run the trust stack (CA, transparency log, timestamp authority, dev OIDC issuer, TUF repository) as a server',
    )
    .option(
      '--data <dir>',
      'state folder: keys, log, trusted_root.json, signing_config.json, tuf/ (default $VOUCH_HOME/serve)',
    )
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'port to listen on (0: any free port)', '8080')
    .option(
      '--public-url <url>',
      'the URL clients use (behind a proxy); kept in DATA/public_url, which names the dev issuer from the first start on',
    )
    .option('--issuer <url...>', 'OIDC issuers the CA accepts tokens from (discovery + JWKS), besides the dev issuer')
    .option('--audience <aud>', 'audience the CA requires in tokens of --issuer', 'sigstore')
    .option(
      '--config <file>',
      'YAML: the issuers the CA accepts and how each maps to a certificate (docs/identities.md)',
    )
    .option('--allow-insecure-loopback-issuers', 'accept issuers over plain HTTP on 127.0.0.1 (tests, development)')
    .option('--postgres <url>', 'keep the log in PostgreSQL instead of SQLite')
    .option('--services <list>', 'comma-separated subset of ca,tlog,tsa,oidc,tuf')
    .option('--local-email <email>', "identity of the dev issuer's tokens (default <login>@localhost)")
    .option('--json', 'print the listening summary as JSON')
    .action(async (o) => {
      json = Boolean(o.json);
      const { serve, formatServe } = await import('./commands/serve.ts');
      const { serving, summary } = await serve(o);
      if (summary.insecureLoopbackIssuers)
        io.err('vouch serve: warning: plain-HTTP loopback issuers are accepted (a test or development setup)\n');
      io.out(o.json ? `${JSON.stringify(summary)}\n` : formatServe(summary));
      await serving.stopped;
    });

  program
    .command('login')
    .description("sign in at the instance's OIDC issuer (browser, or --device); kept until the token expires")
    .option(
      '--instance <url|name>',
      'the instance to sign in for: `public-good` or a `vouch serve` URL (default: config)',
    )
    .option('--device', 'device flow (RFC 8628): for SSH sessions and machines without a browser')
    .option('--oidc-issuer <url>', 'sign in at this issuer instead of the one the instance names')
    .option('--client-id <id>', 'OAuth client id at the issuer', 'sigstore')
    .option('--connector <name>', 'Sigstore public issuer: github, google or microsoft (skips the chooser)')
    .option('--json', 'print the result as JSON')
    .action(async (o) =>
      run(o.json, async () => {
        const { login, formatLogin } = await import('./commands/identity.ts');
        const r = await login(o, loginUi(io));
        return o.json ? r : formatLogin(r);
      }),
    );

  program
    .command('logout')
    .description('forget the login kept for an instance (or every login with --all)')
    .option('--instance <url|name>', 'the instance to log out of (default: config)')
    .option('--all', 'every instance')
    .option('--json', 'print the result as JSON')
    .action(async (o) =>
      run(o.json, async () => {
        const { logout } = await import('./commands/identity.ts');
        const r = await logout(o);
        return o.json ? r : `Logged out of ${r.instance} (${r.removed} login${r.removed === 1 ? '' : 's'} removed)\n`;
      }),
    );

  program
    .command('whoami')
    .description('the identity, issuer and claims the next keyless signature would carry (never signs in)')
    .option('--instance <url|name>', 'the instance whose login to use (default: config)')
    .option('--identity-token <jwt>', 'a token to describe')
    .option('--identity-token-file <file>', 'read the token from this file')
    .addOption(identityProviderOption())
    .option('--identity-audience <aud>', 'token audience to ask providers for (default sigstore)')
    .option('--json', 'print the result as JSON')
    .action(async (o) =>
      run(o.json, async () => {
        const { whoami, formatWhoami } = await import('./commands/identity.ts');
        const r = await whoami({
          ...(o.instance !== undefined ? { instance: o.instance } : {}),
          ...identityOptions(o),
        });
        return o.json ? r : formatWhoami(r);
      }),
    );

  const deps = program
    .command('deps')
    .description("verify a project's dependencies: integrity, registry signatures, provenance, who builds them");
  const depsFlags = (c: Command) =>
    c
      .argument('[lockfile]', 'the lockfile, or the project folder holding it (default: the current folder)')
      .option('--policy <file>', 'a policy file whose `dependencies` section applies (YAML or JSON)')
      .option(
        '--require-signatures',
        'fail on packages without a verified registry signature (also keyless registries)',
      )
      .option('--trusted-root <file...>', 'Sigstore trusted roots for attestations (default: the public Sigstore root)')
      .option('--deps-lock <file>', 'the identity lock (default: vouch-deps.lock.json beside the lockfile)')
      .option('--no-cache', 'ask the registries everything again (the cache keeps immutable registry data only)')
      .option('--concurrency <n>', 'packages examined at once', '16');
  const depsProgress = (o: { json?: boolean; format?: string }) =>
    !o.json && o.format === undefined && process.stderr.isTTY
      ? (() => {
          const bar = progressBar('verifying', 'packages');
          return ({ done, total }: { done: number; total: number }) => bar({ filesDone: done, filesTotal: total });
        })()
      : undefined;
  depsFlags(
    deps.command('verify').description('check every locked package; exit 1 on a problem, 3 when a registry fails'),
  )
    .option('--json', 'print the report as JSON')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json', 'sarif']))
    .action(async (target: string | undefined, o) => {
      const format = o.json ? 'json' : (o.format ?? 'text');
      await run(format === 'json', async () => {
        const [{ depsVerify }, { formatDepsReport, depsSarif }] = await Promise.all([
          import('./commands/deps.ts'),
          import('./format-deps.ts'),
        ]);
        const onProgress = depsProgress(o);
        const r = await depsVerify(target, { ...o, ...(onProgress ? { onProgress } : {}) });
        status = r.exitStatus;
        if (format === 'sarif') return `${JSON.stringify(depsSarif(r), null, 2)}\n`;
        return format === 'json' ? r : formatDepsReport(r);
      });
    });
  depsFlags(
    deps.command('lock').description("record each package's publisher identity in vouch-deps.lock.json (commit it)"),
  )
    .option('--update <name...>', 'accept the current identity of these packages')
    .option('--json', 'print the result as JSON')
    .action(async (target: string | undefined, o) => {
      await run(o.json, async () => {
        const [{ depsLock }, { formatDepsLock }] = await Promise.all([
          import('./commands/deps.ts'),
          import('./format-deps.ts'),
        ]);
        const onProgress = depsProgress(o);
        const r = await depsLock(target, { ...o, ...(onProgress ? { onProgress } : {}) });
        if (!r.written) status = r.report.exitStatus;
        return o.json ? r : formatDepsLock(r);
      });
    });

  const trust = program.command('trust').description('the trusted roots `verify` uses when given no --trusted-root');
  trust
    .command('show')
    .description('list the trusted roots: names, CA subjects, log ids, validity')
    .option('--json', 'print the result as JSON')
    .action(async (o) =>
      run(o.json, async () => {
        const { trustShow, formatTrustShow } = await import('./commands/trust.ts');
        const r = trustShow();
        return o.json ? r : formatTrustShow(r);
      }),
    );
  trust
    .command('import')
    .description('add a trusted root (a Sigstore trusted_root.json) under a name')
    .argument('<file>', 'trusted root JSON file')
    .requiredOption('--name <name>', 'name to store it under')
    .option('--force', 'replace a root of the same name')
    .option('--json', 'print the result as JSON')
    .action(async (file: string, o) =>
      run(o.json, async () => {
        const { trustImport, formatTrustShow } = await import('./commands/trust.ts');
        const r = await trustImport(file, { name: o.name, force: Boolean(o.force) });
        return o.json ? r : `Imported\n${formatTrustShow([r])}`;
      }),
    );
  trust
    .command('export')
    .description('print a stored trusted root, as imported')
    .argument('<name>', 'name of the root (see `vouch trust show`)')
    .action(async (name: string) =>
      run(false, async () => {
        const { trustExport } = await import('./commands/trust.ts');
        return trustExport(name);
      }),
    );

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (caught) {
    let e = caught;
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.exitCode === 0) return EXIT.ok;
      if (e.code === 'commander.help') {
        // `vouch` alone: the help, on stderr, and a usage status.
        io.err(program.helpInformation());
        return EXIT.usage;
      }
      e = new VouchError('USAGE', e.message.replace(/^error: /, ''));
    }
    const err =
      e instanceof VouchError
        ? e
        : new VouchError('INTERNAL', `unexpected error: ${(e as Error)?.message ?? e}`, { cause: e });
    if (json) {
      const failure = verifying ? { verified: false, error: err.toJSON() } : { error: err.toJSON() };
      io.out(`${JSON.stringify(failure, null, 2)}\n`);
    }
    // Loaded only when needed: the directory module is not part of a plain file verification.
    const describe =
      err.code === 'DIRECTORY_MISMATCH' ? (await import('../artifact/dir/verify.ts')).describeDifference : undefined;
    io.err(formatError(err, describe as ((d: never) => string) | undefined));
    if (process.env.VOUCH_DEBUG && err.cause) io.err(`${String((err.cause as Error).stack ?? err.cause)}\n`);
    status = err.exitStatus;
  }
  return status;
}
