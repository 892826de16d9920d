/**
 * How a command runs: its module is loaded when the command is chosen (a cold `vouch verify` loads nothing of
 * `serve`), returns a value, and that value is printed: by the command's formatter for people, or as JSON with
 * `--json`. Errors become one line with their stable code and hint, and an exit status (src/errors.ts). Nothing
 * reaches the terminal without passing through src/cli/terminal.ts. Commands themselves never print.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { EXIT, VouchError } from '../errors.ts';
import { formatError } from './format/error.ts';
import { type ProgressFn, progressBar } from './io.ts';
import { jsonSafe, terminalSafe } from './terminal.ts';

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

const processIo: Io = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

/** What a command may ask of the terminal. */
export interface CommandContext {
  /** `--json` was given: the result is printed as JSON (no progress bar). */
  json: boolean;
  /** A person is at a terminal (stdin and stderr), so a prompt can be answered. */
  interactive: boolean;
  /** A line on stderr (a sign-in prompt, a notice). */
  note(line: string): void;
  /** `vouch: warning: ...` on stderr. */
  warn(message: string): void;
  /** A progress bar on stderr when a person watches (not with `--json`, not into a pipe); `unit` names the items. */
  progress(label?: string, unit?: string): ProgressFn | undefined;
}

/** A document printed as it is (e.g. a stored trusted root), JSON text made terminal-safe by JSON's own escapes. */
export class JsonText {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

/**
 * A command module's default export. `run` gets the positional arguments and the flags as declared in main.ts;
 * `human` renders the result as lines for a person.
 */
export interface CliCommand<R> {
  run(args: string[], flags: Record<string, unknown>, ctx: CommandContext): Promise<R>;
  human(result: R): string[] | JsonText;
  /** The `--json` value, when it is not the result itself (`--format sarif`: the flags say which). */
  json?(result: R, flags: Record<string, unknown>): unknown;
  /** The exit status of a result that is a finding, not an error (deps verify: 1 for a problem, 3 for a registry). */
  exitStatus?(result: R): number;
  /** Members printed beside `error` when the command fails with `--json` (verify: `verified: false`). */
  failure?: Record<string, unknown>;
  /**
   * A failure the command renders itself (verify --policy: the rule tree, or a SARIF log): `json` replaces the
   * `--json` failure document, `lines` go to stderr before the error line. Undefined: the default rendering.
   */
  renderFailure?(error: VouchError, flags: Record<string, unknown>): { json?: unknown; lines?: string[] } | undefined;
  /** Awaited after printing: a server runs until it is stopped. */
  wait?(result: R): Promise<void>;
  /** `--json` on one line (a long-running command's status line, which callers read line by line). */
  jsonLine?: boolean;
}

/** Declares a command module's export with its own argument and flag types (checked against CliCommand). */
export function defineCommand<A extends string[], F, R>(c: {
  run(args: A, flags: F, ctx: CommandContext): Promise<R>;
  human(result: R): string[] | JsonText;
  json?(result: R, flags: F): unknown;
  exitStatus?(result: R): number;
  failure?: Record<string, unknown>;
  renderFailure?(error: VouchError, flags: F): { json?: unknown; lines?: string[] } | undefined;
  wait?(result: R): Promise<void>;
  jsonLine?: boolean;
}): CliCommand<unknown> {
  return c as unknown as CliCommand<unknown>;
}

export type CommandLoader = () => Promise<{ default: CliCommand<unknown> }>;
/** Turns a command module's loader into a commander action. */
export type ActionFactory = (load: CommandLoader) => (...args: unknown[]) => Promise<void>;

/** The version of the package this CLI ships in (package.json, two folders up from src/cli and dist/cli). */
export function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: unknown;
    };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * The command tree as declared, without running anything: what `runCli` parses with, and what the shell completion
 * scripts and docs/cli.md are generated from (src/cli/spec.ts), so they cannot drift from it.
 */
export function createProgram(
  declare: (program: Command, command: ActionFactory) => void,
  command: ActionFactory = () => async () => {},
  io: Io = processIo,
): Command {
  const program = new Command('vouch')
    .description('Sign releases with the identity you already have; verify who signed them, offline.')
    .version(packageVersion())
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: () => {} })
    .showHelpAfterError(false);
  declare(program, command);
  return program;
}

/** Parse `argv` with the commands `declare` adds, run the chosen one, print, and return the exit status. */
export async function runCli(
  argv: string[],
  declare: (program: Command, command: ActionFactory) => void,
  io: Io = processIo,
): Promise<number> {
  let json = false;
  let status: number = EXIT.ok;
  let failure: Record<string, unknown> = {};
  let renderFailure: ((e: VouchError) => { json?: unknown; lines?: string[] } | undefined) | undefined;
  const printLines = (lines: string[]) => io.out(lines.map((l) => `${terminalSafe(l)}\n`).join(''));
  const printJson = (value: unknown, oneLine = false) =>
    io.out(`${jsonSafe(JSON.stringify(value, null, oneLine ? undefined : 2))}\n`);
  const ctx = (asJson: boolean): CommandContext => ({
    json: asJson,
    interactive: Boolean(process.stdin.isTTY && process.stderr.isTTY),
    note: (line) => io.err(`${terminalSafe(line)}\n`),
    warn: (message) => io.err(`vouch: warning: ${terminalSafe(message)}\n`),
    progress: (label, unit) => (!asJson && process.stderr.isTTY ? progressBar(label, unit) : undefined),
  });
  const command: ActionFactory =
    (load) =>
    async (...params) => {
      // commander passes the positional arguments, then the options object, then the Command itself.
      const flags = params.at(-2) as Record<string, unknown>;
      const args = params.slice(0, -2) as string[];
      // `--format json|sarif` (verify) is JSON output as `--json` is; other `--format` values name a content format.
      json = flags.json === true || flags.format === 'json' || flags.format === 'sarif';
      const cmd = (await load()).default;
      failure = cmd.failure ?? {};
      if (cmd.renderFailure) renderFailure = (e) => cmd.renderFailure!(e, flags);
      const result = await cmd.run(args, flags, ctx(json));
      if (cmd.exitStatus) status = cmd.exitStatus(result);
      if (json) printJson(cmd.json ? cmd.json(result, flags) : result, cmd.jsonLine);
      else {
        const out = cmd.human(result);
        if (out instanceof JsonText) io.out(jsonSafe(out.text));
        else printLines(out);
      }
      await cmd.wait?.(result);
    };

  const program = createProgram(declare, command, io);

  try {
    await program.parseAsync(argv, { from: 'user' });
    return status;
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
    const own = renderFailure?.(err);
    if (json) printJson(own?.json !== undefined ? own.json : { ...failure, error: err.toJSON() });
    else if (own?.lines) io.err(own.lines.map((l) => `${terminalSafe(l)}\n`).join(''));
    // Loaded only when needed: the directory module is not part of a plain file verification.
    const describe =
      err.code === 'DIRECTORY_MISMATCH' ? (await import('../artifact/dir/verify.ts')).describeDifference : undefined;
    io.err(
      formatError(err, describe as ((d: never) => string) | undefined)
        .map((l) => `${terminalSafe(l)}\n`)
        .join(''),
    );
    if (process.env.VOUCH_DEBUG && err.cause) {
      const stack = String((err.cause as Error).stack ?? err.cause);
      io.err(
        stack
          .split('\n')
          .map((l) => `${terminalSafe(l)}\n`)
          .join(''),
      );
    }
    return err.exitStatus;
  }
}
