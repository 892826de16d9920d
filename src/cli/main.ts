/**
 * The command line, declared: every command with its arguments and flags, and the module that runs it. A command
 * module (src/cli/commands/NAME.ts) returns a value; its formatter (src/cli/format/) renders it for people, `--json`
 * prints it as JSON; src/cli/run.ts does the printing, exit statuses and errors. Adding a command is one declaration
 * here, one command module and one formatter.
 */
import { Argument, type Command, Option } from 'commander';
import { PROVIDER_NAMES } from '../identity/provider.ts';
import { SHELLS } from './completion.ts';
import { type ActionFactory, createProgram, type Io, runCli } from './run.ts';
import { type CommandSpec, describeCommand } from './spec.ts';

export function main(argv: string[], io?: Io): Promise<number> {
  return runCli(argv, declareCommands, io);
}

/** Every command, argument and flag as declared below: the source of `vouch completion` and docs/cli.md. */
export function cliSpec(): CommandSpec {
  return describeCommand(createProgram(declareCommands));
}

/** A repeatable option's values, in order. */
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** `--identity-provider`: force one token source (names of src/identity/provider.ts). */
function identityProviderOption(): Option {
  return new Option('--identity-provider <name>', 'keyless: take the token from this provider only').choices([
    ...PROVIDER_NAMES,
  ]);
}

function declareCommands(program: Command, command: ActionFactory): void {
  program
    .command('keygen')
    .description('generate a key pair: PREFIX.key (encrypted PKCS#8, mode 0600) and PREFIX.pub (SPKI PEM)')
    .option('--out <prefix>', 'output path prefix', 'vouch')
    .addOption(new Option('--type <type>', 'key type').choices(['ecdsa-p256', 'ed25519']).default('ecdsa-p256'))
    .option('--force', 'overwrite existing key files')
    .option('--json', 'print the result as JSON')
    .action(command(() => import('./commands/keygen.ts')));

  program
    .command('sign')
    .description(
      'sign a target (file:PATH, dir:PATH, a bare path, - for stdin, sha256:HEX, oci:REF, oci-layout:DIR, oci-archive:TAR, docker-archive:TAR)',
    )
    .argument('<target>', 'what to sign')
    .option('--key <file>', 'private key (key-pair signing); without it signing is keyless')
    .option(
      '--bundle <path>',
      'where to write the bundle (default: TARGET.sigstore.json; a second signer: another name)',
    )
    .option('--force', 'replace a bundle that already exists (else FILE_EXISTS)')
    .option(
      '--instance <url|name>',
      'a `vouch serve` URL, `public-good` or `embedded` (keyless default: config, else embedded); with --key its log and TSA witness the signature',
    )
    .option('--no-tlog', 'do not log the signature in the instance transparency log')
    .option('--no-timestamp', "do not ask the instance's timestamp authority for an RFC 3161 timestamp")
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
    .option('--manifest <path>', 'directories: where a manifest over 1 MiB goes (default: BUNDLE.manifest.jsonl)')
    .option(
      '--allow-pe-anomaly <path...>',
      'PE files: sign this file (in a directory: this path in the tree) despite an anomaly (recorded)',
    )
    .option('--json', 'print the result as JSON')
    .action(command(() => import('./commands/sign.ts')));

  program
    .command('verify')
    .description('verify a target against its bundle, a key, an identity, or a policy')
    .argument('<target>', 'file:PATH, a bare path, sha256:HEX, - for stdin, or an image (oci:REF, oci-layout:DIR...)')
    .option(
      '--bundle <path>',
      'the bundle (default: TARGET.sigstore.json; images: the signatures in the registry); repeatable, or a folder of bundles',
      collect,
    )
    .option('--key <file>', 'public key that must have signed (key-pair bundles); repeatable', collect)
    .option('--policy <file|url>', 'a policy (YAML or JSON, docs/policy.md); a URL needs --policy-digest or a pin')
    .option('--policy-digest <sha256:hex>', 'the digest the policy must have (required for a URL)')
    .option('--certificate-identity <id>', 'exact signer identity (email or URI)')
    .option(
      '--certificate-identity-regexp <re>',
      'signer identity as a regular expression (RE2 syntax, always anchored)',
    )
    .option('--certificate-oidc-issuer <url>', 'exact OIDC issuer of the identity')
    .option(
      '--certificate-oidc-issuer-regexp <re>',
      'OIDC issuer as a regular expression (RE2 syntax, always anchored)',
    )
    .option('--certificate-github-workflow-repository <repo>', 'GitHub Actions: the repository claim, exactly')
    .option('--certificate-github-workflow-ref <ref>', 'GitHub Actions: the ref claim (refs/tags/v1.2.3), exactly')
    .option('--certificate-github-workflow-trigger <event>', 'GitHub Actions: the event_name claim, exactly')
    .option('--certificate-github-workflow-sha <sha>', 'GitHub Actions: the commit sha claim, exactly')
    .option('--certificate-github-workflow-name <name>', 'GitHub Actions: the workflow name claim, exactly')
    .option('--trusted-root <file>', 'Sigstore trusted root JSON to trust instead of the trust store')
    .option('--path <path>', 'check one file against a directory signature: its path inside the directory')
    .option('--manifest <path>', 'directories: the manifest file, when not embedded (default: BUNDLE.manifest.jsonl)')
    .option('--ignore-paths <path...>', 'directories, model-signing: also leave out these paths (shown in the result)')
    .option('--fail-on-excluded', 'directories: fail when the tree holds content the signed rules exclude')
    .option('--platform <os/arch>', 'images: verify this platform of an index (a signed index covers it)')
    .option('--repository <name>', 'images: the repository a local image must be signed for')
    .option('--allow-repository <name...>', 'images: also accept signatures made for these repositories')
    .option('--unsafe-allow-any-repository', 'images: accept a signature made for any repository (digest only)')
    .option('--allow-insecure-registry', 'images: plain HTTP to a registry that is not on loopback')
    .option(
      '--pe-strict',
      'PE files (every one of a directory): also refuse data hidden around the Authenticode signature or a broken one',
    )
    .option('--authenticode-roots <file>', 'PE files (--pe-strict): PEM CA certificates Authenticode must chain to')
    .option('--allow-pe-anomaly <path...>', 'PE files (--pe-strict): accept this file despite an anomaly (recorded)')
    .addOption(
      new Option('--format <format>', 'output: text, json (as --json) or sarif (SARIF 2.1.0)').choices([
        'text',
        'json',
        'sarif',
      ]),
    )
    .option('--json', 'print the result as JSON')
    .action(command(() => import('./commands/verify.ts')));

  const policy = program
    .command('policy')
    .description('verification policies: pin the signers of a release, check a policy, pin a policy URL');
  policy
    .command('init')
    .description('the strictest policy that the given signatures meet (pin on first use), as YAML')
    .requiredOption('--from <bundle>', 'a known-good bundle; repeatable (one signer per distinct identity)', collect)
    .option('--threshold <k>', 'with several signers: any k of them (default: all)')
    .option('--key <file>', 'public key of a key-pair bundle; repeatable', collect)
    .option('--trusted-root <file>', 'Sigstore trusted root JSON to trust instead of the trust store')
    .option('--json', 'print the policy as JSON')
    .action(command(() => import('./commands/policy-init.ts')));
  policy
    .command('check')
    .description('validate a policy: schema (line and field), references, and that it can be met')
    .argument('<policy>', 'the policy (YAML or JSON), or an https URL with --policy-digest')
    .option('--policy-digest <sha256:hex>', 'the digest the policy must have')
    .option('--json', 'print the result as JSON')
    .action(command(() => import('./commands/policy-check.ts')));
  policy
    .command('pin')
    .description('fetch a policy URL once, check its digest, and pin it in the trust store')
    .argument('<url>', 'the https URL of the policy')
    .requiredOption('--policy-digest <sha256:hex>', 'the digest the policy must have')
    .option('--json', 'print the result as JSON')
    .action(command(() => import('./commands/policy-pin.ts')));

  program
    .command('attach')
    .description('store a bundle made for a local image (oci-layout, archive) as an OCI referrer of its pushed copy')
    .argument('<image>', 'oci:REGISTRY/NAME@DIGEST (or :TAG) of the pushed image')
    .requiredOption('--bundle <path>', 'the bundle `vouch sign` wrote for the image')
    .option('--allow-repository <name...>', 'the bundle may name these repositories (signed for another name)')
    .option('--allow-insecure-registry', 'plain HTTP to a registry that is not on loopback')
    .option('--json', 'print the result as JSON')
    .action(command(() => import('./commands/attach.ts')));

  program
    .command('copy')
    .description('copy an image into a registry with its signatures (byte for byte: the digest stays the one signed)')
    .argument('<source>', 'oci-layout:DIR[:TAG], oci-archive:TAR or oci:REF')
    .argument('<destination>', 'oci:REGISTRY/NAME[:TAG]')
    .option('--bundle <path>', 'also attach this bundle (default for oci-archive: TAR.sigstore.json when present)')
    .option('--allow-repository <name...>', 'the attached bundle may name these repositories')
    .option('--allow-insecure-registry', 'plain HTTP to a registry that is not on loopback')
    .option('--json', 'print the result as JSON')
    .action(command(() => import('./commands/copy.ts')));

  program
    .command('inspect')
    .description('what a file carries: PE files (kind, Authenticode digest, signer, chain, timestamp, anomalies)')
    .argument('<file>', 'the file to inspect (its kind is read from its content)')
    .option('--authenticode-roots <file>', 'PEM CA certificates Authenticode chains and timestamps are checked against')
    .option('--json', 'print the result as JSON')
    .action(command(() => import('./commands/inspect.ts')));

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
    .action(command(() => import('./commands/serve.ts')));

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
    .action(command(() => import('./commands/login.ts')));

  program
    .command('logout')
    .description('forget the login kept for an instance (or every login with --all)')
    .option('--instance <url|name>', 'the instance to log out of (default: config)')
    .option('--all', 'every instance')
    .option('--json', 'print the result as JSON')
    .action(command(() => import('./commands/logout.ts')));

  program
    .command('whoami')
    .description('the identity, issuer and claims the next keyless signature would carry (never signs in)')
    .option('--instance <url|name>', 'the instance whose login to use (default: config)')
    .option('--identity-token <jwt>', 'a token to describe')
    .option('--identity-token-file <file>', 'read the token from this file')
    .addOption(identityProviderOption())
    .option('--identity-audience <aud>', 'token audience to ask providers for (default sigstore)')
    .option('--json', 'print the result as JSON')
    .action(command(() => import('./commands/whoami.ts')));

  const deps = program
    .command('deps')
    .description("verify a project's dependencies: integrity, registry signatures, provenance, who builds them");
  const depsFlags = (c: Command) =>
    c
      .argument('[lockfile]', 'the lockfile, or the project folder holding it (default: the current folder)')
      .option(
        '--policy <file|url>',
        'a policy whose `dependencies` section applies (YAML or JSON; a URL needs a digest or a pin)',
      )
      .option('--policy-digest <sha256:hex>', 'the digest the policy must have (required for a URL)')
      .option(
        '--require-signatures',
        'fail on packages without a verified registry signature (also keyless registries)',
      )
      .option('--trusted-root <file...>', 'Sigstore trusted roots for attestations (default: the public Sigstore root)')
      .option('--deps-lock <file>', 'the identity lock (default: vouch-deps.lock.json beside the lockfile)')
      .option('--no-cache', 'ask the registries everything again (the cache keeps immutable registry data only)')
      .option('--concurrency <n>', 'packages examined at once', '16');
  depsFlags(
    deps.command('verify').description('check every locked package; exit 1 on a problem, 3 when a registry fails'),
  )
    .option('--json', 'print the report as JSON')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json', 'sarif']))
    .action(command(() => import('./commands/deps-verify.ts')));
  depsFlags(
    deps.command('lock').description("record each package's publisher identity in vouch-deps.lock.json (commit it)"),
  )
    .option('--update <name...>', 'accept the current identity of these packages')
    .option('--json', 'print the result as JSON')
    .action(command(() => import('./commands/deps-lock.ts')));

  program
    .command('completion')
    .description('print the shell completion script (bash: source <(vouch completion bash))')
    .addArgument(new Argument('<shell>', 'the shell').choices([...SHELLS]))
    .action(command(() => import('./commands/completion.ts')));

  const trust = program.command('trust').description('the trusted roots `verify` uses when given no --trusted-root');
  trust
    .command('show')
    .description('list the trusted roots: names, CA subjects, log ids, validity')
    .option('--json', 'print the result as JSON')
    .action(command(() => import('./commands/trust-show.ts')));
  trust
    .command('import')
    .description('add a trusted root (a Sigstore trusted_root.json, a file or a URL) under a name')
    .argument('<file|url>', 'trusted root JSON file, its https URL, or a `vouch serve` URL (its published root)')
    .requiredOption('--name <name>', 'name to store it under')
    .option('--sha256 <hex>', 'the SHA-256 the root must have (required for a URL unless confirmed at a terminal)')
    .option('--force', 'replace a root of the same name')
    .option('--json', 'print the result as JSON')
    .action(command(() => import('./commands/trust-import.ts')));
  trust
    .command('export')
    .description('print a stored trusted root, as imported')
    .argument('<name>', 'name of the root (see `vouch trust show`)')
    .action(command(() => import('./commands/trust-export.ts')));
}
