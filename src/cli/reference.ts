/**
 * docs/cli.md, rendered from the command tree (src/cli/spec.ts): every command with its arguments and every flag
 * with its value, choices and default. `node scripts/docs-cli.ts` writes it; test/cli-reference.test.ts fails when
 * the file and the declarations disagree, so the reference cannot describe a flag that is gone or miss a new one.
 */
import { type ArgumentSpec, allCommands, type CommandSpec, type OptionSpec } from './spec.ts';

/** `<file>`, `[cache]`, `<path...>`: an argument or flag value as a user types it. */
function argumentUsage(a: ArgumentSpec): string {
  const name = `${a.name}${a.variadic ? '...' : ''}`;
  return a.required ? `<${name}>` : `[${name}]`;
}

function usage(c: CommandSpec): string {
  const words = ['vouch', ...c.path];
  if (c.commands.length > 0) words.push('<command>');
  words.push(...c.arguments.map(argumentUsage));
  if (c.options.length > 0) words.push('[options]');
  return words.join(' ');
}

/** Markdown table cells: a pipe would end the cell, a line break the row. */
function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function optionRow(o: OptionSpec): string {
  const notes: string[] = [];
  if (o.mandatory) notes.push('required');
  if (o.choices) notes.push(`one of ${o.choices.map((c) => `\`${c}\``).join(', ')}`);
  if (o.default !== undefined) notes.push(`default \`${o.default}\``);
  const description = notes.length > 0 ? `${o.description} (${notes.join('; ')})` : o.description;
  return `| \`${cell(o.flags)}\` | ${cell(description)} |`;
}

export function cliReference(spec: CommandSpec): string {
  const lines = [
    '# Command-line reference',
    '',
    '<!-- Generated from the command definitions (src/cli/main.ts) by `node scripts/docs-cli.ts`; do not edit. -->',
    '',
    `${spec.description}`,
    '',
    'Every command also takes `-h, --help`; `vouch --version` prints the version. Exit statuses and error codes are in',
    'the README. Shell completion: `source <(vouch completion bash)`, `source <(vouch completion zsh)`, or',
    '`vouch completion fish | source`.',
  ];
  for (const c of allCommands(spec)) {
    if (c.path.length === 0) continue;
    lines.push('', `## \`vouch ${c.path.join(' ')}\``, '', c.description, '', '```', usage(c), '```');
    if (c.commands.length > 0) {
      lines.push('', 'Commands:', '');
      for (const s of c.commands) lines.push(`- \`vouch ${s.path.join(' ')}\`: ${s.description}`);
    }
    if (c.arguments.length > 0) {
      lines.push('', '| Argument | |', '|---|---|');
      for (const a of c.arguments) {
        const choices = a.choices ? ` (one of ${a.choices.map((x) => `\`${x}\``).join(', ')})` : '';
        lines.push(`| \`${cell(argumentUsage(a))}\` | ${cell(a.description)}${choices} |`);
      }
    }
    if (c.options.length > 0) {
      lines.push('', '| Flag | |', '|---|---|');
      for (const o of c.options) lines.push(optionRow(o));
    }
  }
  return `${lines.join('\n')}\n`;
}
