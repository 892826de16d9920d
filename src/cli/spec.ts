/**
 * The command tree as plain data, read from the commander declarations of src/cli/main.ts: the one source of the
 * shell completion scripts (`vouch completion`, src/cli/completion.ts) and of docs/cli.md (scripts/docs-cli.ts),
 * so neither can name a flag that does not exist or miss one that does.
 */
import type { Command } from 'commander';

export interface OptionSpec {
  /** As declared, e.g. `--type <type>`. */
  flags: string;
  /** `--type`. */
  long: string;
  short?: string;
  description: string;
  /** The value the option takes, when it takes one (`<type>` required, `[cache]` optional). */
  value?: { name: string; optional: boolean; variadic: boolean };
  choices?: string[];
  default?: string;
  /** The option must be given (`requiredOption`). */
  mandatory?: boolean;
}

export interface ArgumentSpec {
  name: string;
  description: string;
  required: boolean;
  variadic: boolean;
  choices?: string[];
}

export interface CommandSpec {
  name: string;
  /** The words that run it after `vouch`, e.g. `['trust', 'import']`; empty for the program itself. */
  path: string[];
  description: string;
  arguments: ArgumentSpec[];
  options: OptionSpec[];
  commands: CommandSpec[];
}

export function describeCommand(cmd: Command, parent: string[] = []): CommandSpec {
  const path = cmd.parent ? [...parent, cmd.name()] : [];
  return {
    name: cmd.name(),
    path,
    description: cmd.description(),
    arguments: cmd.registeredArguments.map((a) => {
      const spec: ArgumentSpec = {
        name: a.name(),
        description: a.description,
        required: a.required,
        variadic: a.variadic,
      };
      if (a.argChoices) spec.choices = [...a.argChoices];
      return spec;
    }),
    options: cmd.options
      .filter((o) => !o.hidden)
      .map((o) => {
        const spec: OptionSpec = { flags: o.flags, long: o.long ?? o.flags, description: o.description };
        if (o.short) spec.short = o.short;
        const value = /[<[]([^>\]]+)[>\]]/.exec(o.flags);
        if (value) {
          spec.value = {
            name: value[1]!.replace(/\.\.\.$/, ''),
            optional: o.optional,
            variadic: o.variadic,
          };
        }
        if (o.argChoices) spec.choices = [...o.argChoices];
        if (o.defaultValue !== undefined) spec.default = String(o.defaultValue);
        if (o.mandatory) spec.mandatory = true;
        return spec;
      }),
    commands: cmd.commands.map((c) => describeCommand(c, path)),
  };
}

/** Every command of the tree, depth first, the program itself included. */
export function allCommands(spec: CommandSpec): CommandSpec[] {
  return [spec, ...spec.commands.flatMap(allCommands)];
}
